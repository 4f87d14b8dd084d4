//! Where the user's browser goes after the Google consent: only ever an allow-listed URL.
//!
//! The allow-list is configuration (`ALLOWED_RETURN_TO`). Both sides are compared in the one
//! form the WHATWG URL parser gives them (`url::Url`): scheme and host lower-cased, a default
//! port dropped, an empty path written `/`. That form is what the flow stores and what the
//! callback checks again, so an entry written `https://APP.example.com`, or with `:443`, works
//! after consent as well as before it. Past that the match is exact: the requested URL must
//! equal one entry in full (no prefix, no extra path, query, fragment or userinfo), and a
//! requested string the parser would silently repair (surrounding spaces, tabs or newlines,
//! control characters) is refused rather than repaired. The browser always goes to the
//! configured entry's URL, never to the requested text. Entries themselves are checked at
//! startup: absolute URLs, custom app schemes allowed (`myapp://integrations`), script-capable
//! schemes refused.

use url::Url;

const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "vbscript", "file", "blob", "about"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReturnToError {
    #[error("return_to is not one of the allowed return URLs")]
    NotAllowed,
    #[error("allowed return URL {entry:?} is not an absolute URL")]
    NotAbsolute { entry: String },
    #[error("allowed return URL {entry:?} uses the forbidden scheme {scheme:?}")]
    ForbiddenScheme { entry: String, scheme: String },
    #[error("no allowed return URL is configured")]
    Empty,
}

/// A return URL that is on the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(Url);

impl ReturnTo {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL with the outcome appended as query parameters (`status=connected`, or
    /// `status=error&reason=<code>`), keeping whatever query the configured URL already has.
    pub fn with_outcome(&self, pairs: &[(&str, &str)]) -> Url {
        let mut url = self.0.clone();
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in pairs {
                query.append_pair(name, value);
            }
        }
        url
    }
}

/// The configured allow-list, in configuration order; the first entry is the default.
#[derive(Debug, Clone)]
pub struct AllowedReturnTo {
    entries: Vec<ReturnTo>,
}

impl AllowedReturnTo {
    /// Parses a comma-separated list of absolute URLs.
    pub fn parse(raw: &str) -> Result<Self, ReturnToError> {
        let mut entries = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let url = Url::parse(entry).map_err(|_| ReturnToError::NotAbsolute { entry: entry.to_owned() })?;
            if FORBIDDEN_SCHEMES.contains(&url.scheme()) {
                return Err(ReturnToError::ForbiddenScheme {
                    entry: entry.to_owned(),
                    scheme: url.scheme().to_owned(),
                });
            }
            if url.cannot_be_a_base() && !url.scheme().contains('.') && url.path().is_empty() {
                return Err(ReturnToError::NotAbsolute { entry: entry.to_owned() });
            }
            entries.push(ReturnTo(url));
        }
        if entries.is_empty() {
            return Err(ReturnToError::Empty);
        }
        Ok(Self { entries })
    }

    /// The entry whose normalised form equals `requested`'s, or the default when nothing was
    /// requested.
    pub fn resolve(&self, requested: Option<&str>) -> Result<ReturnTo, ReturnToError> {
        let Some(requested) = requested else { return Ok(self.entries[0].clone()) };
        let parsed = Url::parse(requested).map_err(|_| ReturnToError::NotAllowed)?;
        if needs_repair(requested, &parsed) {
            return Err(ReturnToError::NotAllowed);
        }
        self.entries.iter().find(|entry| entry.0.as_str() == parsed.as_str()).cloned().ok_or(ReturnToError::NotAllowed)
    }
}

/// Whether the parser had to repair `raw` on the way to `parsed`, beyond the normalisation the
/// allow-list accepts (case of scheme and host, default port, empty path): stripped or dropped
/// whitespace and control characters, `\` read as `/`, missing or extra `/` before a host,
/// or a percent-encoded host decoded.
fn needs_repair(raw: &str, parsed: &Url) -> bool {
    if raw.chars().any(|c| c.is_ascii_whitespace() || c.is_control() || c == '\\') {
        return true;
    }
    if !parsed.has_host() {
        return false;
    }
    let Some(after_scheme) = raw.get(parsed.scheme().len() + 1..) else { return true };
    let Some(authority_and_rest) = after_scheme.strip_prefix("//") else { return true };
    let authority = authority_and_rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.is_empty() || authority.contains('%')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> AllowedReturnTo {
        AllowedReturnTo::parse("https://app.example/integrations, myapp://integrations").unwrap()
    }

    #[test]
    fn default_is_first_entry_and_exact_matches_resolve() {
        let allowed = allowed();
        assert_eq!(allowed.resolve(None).unwrap().as_str(), "https://app.example/integrations");
        assert_eq!(allowed.resolve(Some("myapp://integrations")).unwrap().as_str(), "myapp://integrations");
    }

    #[test]
    fn near_misses_are_refused() {
        let allowed = allowed();
        for trick in [
            "//evil.example",
            "https://app.example.evil.example/integrations",
            "https://app.example/integrations/../evil",
            "https://app.example/integrations?x=1",
            "https://app.example/integrations#x",
            "https://app.example%2eevil.example/integrations",
            "https%3A%2F%2Fapp.example%2Fintegrations",
            "https://app.example/Integrations",
            "https://app.example/integrations/",
            "https://app.example/integrations?",
            "https://app.example/integrations#",
            "https://app.example:444/integrations",
            "http://app.example/integrations",
            "https://app.example./integrations",
            "https://app.example/integrations ",
            " https://app.example/integrations",
            "https://app.example/inte\tgrations",
            "https://app.example/integrations\n",
            "https://app.example/%69ntegrations",
            "https://app.example\\integrations",
            "https:app.example/integrations",
            "https:/app.example/integrations",
            "https:///app.example/integrations",
            "https://app%2eexample/integrations",
            "https://%61pp.example/integrations",
            "https://user@app.example/integrations",
            "javascript:alert(1)//https://app.example/integrations",
            "myapp://integrations.evil",
            "",
        ] {
            assert_eq!(allowed.resolve(Some(trick)), Err(ReturnToError::NotAllowed), "{trick:?}");
        }
    }

    #[test]
    fn entries_and_requests_meet_in_normalised_form() {
        // (configured entry, requested return_to, URL the browser is sent to)
        for (entry, requested, resolved) in [
            ("https://app.example.com", "https://app.example.com", "https://app.example.com/"),
            ("https://app.example.com", "https://app.example.com/", "https://app.example.com/"),
            ("https://APP.example.com/x", "https://app.example.com/x", "https://app.example.com/x"),
            ("https://app.example.com/x", "HTTPS://APP.EXAMPLE.COM/x", "https://app.example.com/x"),
            ("https://app.example.com:443/x", "https://app.example.com/x", "https://app.example.com/x"),
            ("https://app.example.com/x", "https://app.example.com:443/x", "https://app.example.com/x"),
            ("http://localhost:80/cb", "http://localhost/cb", "http://localhost/cb"),
            ("myapp://integrations", "myapp://integrations", "myapp://integrations"),
        ] {
            let allowed = AllowedReturnTo::parse(entry).unwrap();
            assert_eq!(
                allowed.resolve(Some(requested)).map(|r| r.as_str().to_owned()),
                Ok(resolved.to_owned()),
                "{entry} <- {requested}"
            );
            // What the flow stores (the resolved form) resolves again at the callback.
            let stored = allowed.resolve(Some(requested)).unwrap();
            assert_eq!(allowed.resolve(Some(stored.as_str())), Ok(stored.clone()), "{entry} stored");
            assert_eq!(allowed.resolve(None).unwrap().as_str(), resolved, "{entry} default");
        }
    }

    #[test]
    fn normalised_entries_still_refuse_near_misses() {
        let allowed = AllowedReturnTo::parse("https://APP.example.com:443, myapp://Integrations").unwrap();
        for trick in [
            "https://app.example.com/x",
            "https://app.example.com/?a=1",
            "https://app.example.com/#f",
            "https://app.example.com:8443/",
            "https://app.example.com.evil.example/",
            "https://evil.example/https://app.example.com/",
            "https://app.example.com@evil.example/",
            "http://app.example.com/",
            "myapp://integrations/x",
            "myapp://integrations?x",
        ] {
            assert_eq!(allowed.resolve(Some(trick)), Err(ReturnToError::NotAllowed), "{trick:?}");
        }
    }

    #[test]
    fn configuration_refuses_script_schemes_and_relative_urls() {
        assert!(matches!(AllowedReturnTo::parse("javascript:alert(1)"), Err(ReturnToError::ForbiddenScheme { .. })));
        assert!(matches!(AllowedReturnTo::parse("/relative"), Err(ReturnToError::NotAbsolute { .. })));
        assert!(matches!(AllowedReturnTo::parse(" , "), Err(ReturnToError::Empty)));
    }

    #[test]
    fn outcome_is_appended_to_existing_query() {
        let allowed = AllowedReturnTo::parse("https://app.example/cb?src=cal").unwrap();
        let url = allowed.resolve(None).unwrap().with_outcome(&[("status", "connected")]);
        assert_eq!(url.as_str(), "https://app.example/cb?src=cal&status=connected");
        let custom = AllowedReturnTo::parse("myapp://integrations").unwrap();
        let url = custom.resolve(None).unwrap().with_outcome(&[("status", "error"), ("reason", "access_denied")]);
        assert_eq!(url.as_str(), "myapp://integrations?status=error&reason=access_denied");
    }
}
