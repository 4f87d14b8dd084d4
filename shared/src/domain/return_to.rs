//! Where the user's browser goes after the Google consent: only ever an allow-listed URL.
//!
//! The allow-list is configuration (`ALLOWED_RETURN_TO`). A requested `return_to` is accepted
//! only when it is byte-for-byte equal to one configured entry: no prefix, host or
//! "normalised" matching, so `//evil.example`, `https://app.example.evil.example`,
//! percent-encoded variants and `javascript:` URLs can never slip through a parser
//! disagreement. Entries themselves are checked at startup: absolute URLs, custom app schemes
//! allowed (`myapp://integrations`), script-capable schemes refused.

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
    entries: Vec<(String, ReturnTo)>,
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
            entries.push((entry.to_owned(), ReturnTo(url)));
        }
        if entries.is_empty() {
            return Err(ReturnToError::Empty);
        }
        Ok(Self { entries })
    }

    /// The entry that equals `requested` exactly, or the default when nothing was requested.
    pub fn resolve(&self, requested: Option<&str>) -> Result<ReturnTo, ReturnToError> {
        match requested {
            None => Ok(self.entries[0].1.clone()),
            Some(requested) => self
                .entries
                .iter()
                .find(|(raw, _)| raw == requested)
                .map(|(_, url)| url.clone())
                .ok_or(ReturnToError::NotAllowed),
        }
    }
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
            "HTTPS://APP.EXAMPLE/integrations",
            "https://app.example/integrations ",
            "https://user@app.example/integrations",
            "javascript:alert(1)//https://app.example/integrations",
            "myapp://integrations.evil",
            "",
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
