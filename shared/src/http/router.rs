//! Routing, the same way in every function: a function declares its routes as patterns
//! (`/connections/{provider}/authorize`, the API Gateway route keys of `template.yaml`), and
//! [`route`] matches the raw request path against them, with the path parameters decoded.
//!
//! Contract: a pattern segment `{name}` matches exactly one non-empty path segment, which is
//! percent-decoded; other segments match literally.
//! Anything else answers 404 `not_found`, except OPTIONS and HEAD, which are never served
//! (405: they are the gateway's, for CORS, or nobody's). A parameter's value is the one API
//! Gateway passed in `pathParameters` (it matched the route and is the authority on it), and
//! the decoded path segment when the event carries none (a direct invocation).

use http::Method;
use lambda_http::{Request, RequestExt};

use super::ApiError;

/// One route of a function: a method and a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
}

impl Route {
    pub const fn new(method: Method, pattern: &'static str) -> Self {
        Self { method, pattern }
    }

    /// The decoded parameters when `path` has this route's shape.
    pub fn match_path(&self, path: &str) -> Option<PathParams> {
        let (pattern, path): (Vec<&str>, Vec<&str>) = (self.pattern.split('/').collect(), path.split('/').collect());
        if pattern.len() != path.len() {
            return None;
        }
        let mut params = Vec::new();
        for (expected, actual) in pattern.iter().zip(&path) {
            match expected.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !actual.is_empty() => {
                    let value = percent_encoding::percent_decode_str(actual).decode_utf8().ok()?;
                    params.push((name, value.into_owned()));
                }
                Some(_) => return None,
                None if expected == actual => {}
                None => return None,
            }
        }
        Some(PathParams(params))
    }
}

/// The path parameters of a matched route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(&'static str, String)>);

impl PathParams {
    /// The parameter `name`; the route's pattern guarantees it exists.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(key, _)| *key == name).map_or("", |(_, value)| value.as_str())
    }
}

/// The route of `routes` that `request` asks for, with its parameters; a query string over
/// [`MAX_QUERY_BYTES`](super::MAX_QUERY_BYTES) is refused before anything else.
pub fn route<'r>(request: &Request, routes: &'r [Route]) -> Result<(&'r Route, PathParams), ApiError> {
    if request.uri().query().map_or(0, str::len) > super::MAX_QUERY_BYTES {
        return Err(ApiError::bad_request(
            "query_too_long",
            format!("the query string may be at most {} KiB", super::MAX_QUERY_BYTES / 1024),
        ));
    }
    let path = super::path(request);
    let matched = routes
        .iter()
        .filter(|route| route.method == *request.method())
        .find_map(|route| route.match_path(path).map(|params| (route, params)));
    if let Some((route, mut params)) = matched {
        if let Some(given) = request.path_parameters_ref() {
            for (name, value) in &mut params.0 {
                if let Some(passed) = given.first(name) {
                    passed.clone_into(value);
                }
            }
        }
        return Ok((route, params));
    }
    if matches!(*request.method(), Method::OPTIONS | Method::HEAD) {
        return Err(ApiError::method_not_allowed());
    }
    Err(ApiError::not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_matched_whole_and_decoded() {
        let sync = Route::new(Method::POST, "/appointments/{id}/sync");
        assert_eq!(sync.match_path("/appointments/a%2F1/sync").unwrap().get("id"), "a/1");
        assert!(sync.match_path("/appointments//sync").is_none());
        assert!(sync.match_path("/appointments/a/b/sync").is_none());
        assert!(sync.match_path("/appointments/%FF/sync").is_none(), "not UTF-8");
        let connect = Route::new(Method::POST, "/connections/{provider}/authorize");
        assert_eq!(connect.match_path("/connections/zoom/authorize").unwrap().get("provider"), "zoom");
        assert!(connect.match_path("/connections/google").is_none());
        let calendars = Route::new(Method::GET, "/calendars");
        assert!(calendars.match_path("/calendars/selected").is_none());
        assert_eq!(calendars.match_path("/calendars"), Some(PathParams::default()));
    }
}
