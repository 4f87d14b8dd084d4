//! Routes and how a request path selects one.
//!
//! Contract: a route is a method, a path pattern and whether the JWT authorizer guards it,
//! plus whatever the caller routes to (its `target`: a function, a function name). A pattern
//! is `/` followed by segments, each either literal or a whole-segment `{name}` parameter. A
//! path matches when it has as many segments, every literal is equal as sent, and every
//! parameter segment is non-empty; the parameter's value is the segment percent-decoded
//! (`a%2F1` is `a/1`), and a segment that does not decode to UTF-8 does not match. When
//! several routes match, the most specific wins as in API Gateway: at the first segment where
//! they differ, a literal beats a parameter.

use std::collections::BTreeMap;
use std::fmt;

use http::Method;

/// Decoded path parameters by name, as in the event's `pathParameters`.
pub type PathParameters = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<T> {
    pub method: Method,
    pub path: PathPattern,
    /// Whether the JWT authorizer runs before the target.
    pub jwt: bool,
    pub target: T,
}

impl<T> Route<T> {
    pub fn new(method: Method, path: &str, jwt: bool, target: T) -> Result<Self, PatternError> {
        Ok(Self { method, path: PathPattern::parse(path)?, jwt, target })
    }

    /// `POST /connections/{provider}/authorize`, as in the event's `routeKey`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path parameters when a `method` request for `path` takes this route.
    pub fn matches(&self, method: &Method, path: &str) -> Option<PathParameters> {
        if self.method != method {
            return None;
        }
        self.path.matches(path)
    }
}

/// A route that a request takes, with the path parameters it was given.
#[derive(Debug)]
pub struct Match<'r, T> {
    pub route: &'r Route<T>,
    pub parameters: PathParameters,
}

/// The route API Gateway would pick for a `method` request of `path`; `None` is its 404.
pub fn select<'r, T>(routes: &'r [Route<T>], method: &Method, path: &str) -> Option<Match<'r, T>> {
    let mut best: Option<Match<'r, T>> = None;
    for route in routes {
        let Some(parameters) = route.matches(method, path) else { continue };
        let more_specific = match &best {
            None => true,
            Some(current) => route.path.specificity() > current.route.path.specificity(),
        };
        if more_specific {
            best = Some(Match { route, parameters });
        }
    }
    best
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter(String),
}

/// A parsed route path such as `/appointments/{id}/sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("route path {0:?} does not start with '/'")]
    NoLeadingSlash(String),
    #[error("route path {0:?} has an empty segment")]
    EmptySegment(String),
    #[error("route path {path:?}: {segment:?} is neither a literal nor a whole-segment {{parameter}}")]
    BadSegment { path: String, segment: String },
    #[error("route path {path:?}: greedy {segment:?} is not emulated")]
    Greedy { path: String, segment: String },
    #[error("route path {path:?} names parameter {name:?} twice")]
    DuplicateParameter { path: String, name: String },
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let rest = text.strip_prefix('/').ok_or_else(|| PatternError::NoLeadingSlash(text.to_owned()))?;
        let mut segments = Vec::new();
        for segment in split_segments(rest) {
            let bad = || PatternError::BadSegment { path: text.to_owned(), segment: segment.to_owned() };
            if segment.is_empty() {
                return Err(PatternError::EmptySegment(text.to_owned()));
            }
            let parsed = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if name.ends_with('+') => {
                    return Err(PatternError::Greedy { path: text.to_owned(), segment: segment.to_owned() });
                }
                Some(name) if name.is_empty() || name.contains(['{', '}']) => return Err(bad()),
                Some(name) => {
                    if segments.contains(&Segment::Parameter(name.to_owned())) {
                        return Err(PatternError::DuplicateParameter { path: text.to_owned(), name: name.to_owned() });
                    }
                    Segment::Parameter(name.to_owned())
                }
                None if segment.contains(['{', '}']) => return Err(bad()),
                None => Segment::Literal(segment.to_owned()),
            };
            segments.push(parsed);
        }
        Ok(Self { text: text.to_owned(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The decoded path parameters when `path` (as sent, percent-encoded) fits this pattern.
    pub fn matches(&self, path: &str) -> Option<PathParameters> {
        let actual: Vec<&str> = split_segments(path.strip_prefix('/')?).collect();
        if actual.len() != self.segments.len() {
            return None;
        }
        let mut parameters = PathParameters::new();
        for (expected, actual) in self.segments.iter().zip(actual) {
            match expected {
                Segment::Literal(literal) if literal == actual => {}
                Segment::Literal(_) => return None,
                Segment::Parameter(_) if actual.is_empty() => return None,
                Segment::Parameter(name) => {
                    let value = percent_encoding::percent_decode_str(actual).decode_utf8().ok()?;
                    parameters.insert(name.clone(), value.into_owned());
                }
            }
        }
        Some(parameters)
    }

    /// Orders patterns of equal length as API Gateway prefers them: literals first, leftmost first.
    fn specificity(&self) -> Vec<bool> {
        self.segments.iter().map(|s| matches!(s, Segment::Literal(_))).collect()
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The segments after the leading `/`; the root path `/` has none.
fn split_segments(rest: &str) -> impl Iterator<Item = &str> {
    (!rest.is_empty()).then(|| rest.split('/')).into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> PathParameters {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn paths_match_patterns_segment_by_segment() {
        // (pattern, path, the parameters of a match)
        type Case = (&'static str, &'static str, Option<&'static [(&'static str, &'static str)]>);
        let cases: &[Case] = &[
            ("/appointments/{id}/sync", "/appointments/a-1/sync", Some(&[("id", "a-1")])),
            ("/appointments/{id}/sync", "/appointments/a%2F1/sync", Some(&[("id", "a/1")])),
            ("/appointments/{id}/sync", "/appointments/a%201/sync", Some(&[("id", "a 1")])),
            ("/appointments/{id}/sync", "/appointments/%C3%A9t%C3%A9/sync", Some(&[("id", "été")])),
            ("/appointments/{id}/sync", "/appointments/a+1/sync", Some(&[("id", "a+1")])),
            // Not UTF-8 once decoded.
            ("/appointments/{id}/sync", "/appointments/%FF/sync", None),
            // Empty segment, extra segments, missing segments, trailing slash.
            ("/appointments/{id}/sync", "/appointments//sync", None),
            ("/appointments/{id}/sync", "/appointments/a/b/sync", None),
            ("/appointments/{id}/sync", "/appointments/a", None),
            ("/appointments/{id}/sync", "/appointments/a/sync/", None),
            ("/calendars", "/calendars/selected", None),
            ("/calendars", "/calendars/", None),
            ("/calendars", "/calendars", Some(&[])),
            ("/calendars", "calendars", None),
            // Literals compare as sent: an encoded letter is not the letter.
            ("/calendars", "/calendar%73", None),
            ("/", "/", Some(&[])),
            ("/", "/calendars", None),
            ("/sessions/{session_id}/meeting", "/sessions/s%3A1/meeting", Some(&[("session_id", "s:1")])),
        ];
        for (pattern, path, expected) in cases {
            let pattern = PathPattern::parse(pattern).unwrap();
            assert_eq!(pattern.matches(path), expected.map(params), "{pattern} against {path}");
        }
    }

    #[test]
    fn provider_routes_take_the_provider_from_the_path() {
        let routes = [
            Route::new(Method::POST, "/connections/{provider}/authorize", true, "authorize").unwrap(),
            Route::new(Method::GET, "/connections/{provider}/launch", false, "launch").unwrap(),
            Route::new(Method::GET, "/connections/{provider}/callback", false, "callback").unwrap(),
            Route::new(Method::GET, "/connections/{provider}", true, "status").unwrap(),
            Route::new(Method::DELETE, "/connections/{provider}", true, "disconnect").unwrap(),
        ];
        let cases = [
            (Method::POST, "/connections/google/authorize", Some(("authorize", "google"))),
            (Method::POST, "/connections/zoom/authorize", Some(("authorize", "zoom"))),
            (Method::GET, "/connections/google/launch", Some(("launch", "google"))),
            (Method::GET, "/connections/microsoft%20365/callback", Some(("callback", "microsoft 365"))),
            (Method::GET, "/connections/google", Some(("status", "google"))),
            (Method::DELETE, "/connections/zoom", Some(("disconnect", "zoom"))),
            (Method::GET, "/connections/google/authorize", None),
            (Method::GET, "/connections//launch", None),
            (Method::GET, "/connections", None),
            (Method::GET, "/connections/google/launch/again", None),
            (Method::PUT, "/connections/google", None),
        ];
        for (method, path, expected) in cases {
            let found = select(&routes, &method, path).map(|m| (m.route.target, m.parameters["provider"].clone()));
            assert_eq!(found, expected.map(|(t, p)| (t, p.to_owned())), "{method} {path}");
        }
        assert_eq!(routes[0].route_key(), "POST /connections/{provider}/authorize");
    }

    #[test]
    fn the_most_specific_route_wins_whatever_the_order() {
        let mut routes = vec![
            Route::new(Method::GET, "/calendars/{id}", true, "by id").unwrap(),
            Route::new(Method::GET, "/calendars/selected", true, "selected").unwrap(),
            Route::new(Method::GET, "/{a}/selected", true, "any selected").unwrap(),
        ];
        for _ in 0..2 {
            let pick = |path| select(&routes, &Method::GET, path).map(|m| m.route.target);
            assert_eq!(pick("/calendars/selected"), Some("selected"));
            assert_eq!(pick("/calendars/c1"), Some("by id"));
            assert_eq!(pick("/other/selected"), Some("any selected"));
            routes.reverse();
        }
    }

    #[test]
    fn malformed_patterns_are_refused() {
        let cases = [
            ("calendars", PatternError::NoLeadingSlash("calendars".into())),
            ("/a//b", PatternError::EmptySegment("/a//b".into())),
            ("/a/", PatternError::EmptySegment("/a/".into())),
            ("/a/{}", PatternError::BadSegment { path: "/a/{}".into(), segment: "{}".into() }),
            ("/a/x{id}", PatternError::BadSegment { path: "/a/x{id}".into(), segment: "x{id}".into() }),
            ("/a/{i{d}", PatternError::BadSegment { path: "/a/{i{d}".into(), segment: "{i{d}".into() }),
            ("/a/{proxy+}", PatternError::Greedy { path: "/a/{proxy+}".into(), segment: "{proxy+}".into() }),
            ("/{id}/{id}", PatternError::DuplicateParameter { path: "/{id}/{id}".into(), name: "id".into() }),
        ];
        for (text, expected) in cases {
            assert_eq!(PathPattern::parse(text), Err(expected), "{text}");
        }
    }
}
