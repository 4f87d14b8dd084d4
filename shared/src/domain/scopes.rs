//! OAuth scope sets, compared the way Google reports them.
//!
//! Google answers a request for `email` with `https://www.googleapis.com/auth/userinfo.email`
//! (and `profile` with `.../userinfo.profile`), and with granular consent the user may untick
//! any non-sign-in scope. So scopes are normalised to Google's long form before comparing, and
//! "granted covers required" is a set question, never a string comparison.

use std::collections::BTreeSet;

const USERINFO_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
const USERINFO_PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";

fn normalise(scope: &str) -> String {
    match scope {
        "email" => USERINFO_EMAIL.to_owned(),
        "profile" => USERINFO_PROFILE.to_owned(),
        other => other.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parses a space- (or comma-) separated scope string, as in OAuth responses and config.
    pub fn parse(raw: &str) -> Self {
        Self(raw.split([' ', ',']).filter(|s| !s.is_empty()).map(normalise).collect())
    }

    pub fn of<I: IntoIterator<Item = S>, S: AsRef<str>>(scopes: I) -> Self {
        Self(scopes.into_iter().map(|s| normalise(s.as_ref())).collect())
    }

    /// The scopes of `self` that `granted` lacks; empty when `granted` covers `self`.
    pub fn missing_from(&self, granted: &ScopeSet) -> Vec<String> {
        self.0.difference(&granted.0).cloned().collect()
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(&normalise(scope))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sign_in_scopes_match_googles_long_form() {
        let required = ScopeSet::parse("openid email https://www.googleapis.com/auth/calendar.events");
        let granted = ScopeSet::parse(
            "https://www.googleapis.com/auth/calendar.events openid https://www.googleapis.com/auth/userinfo.email",
        );
        assert!(required.missing_from(&granted).is_empty());
    }

    #[test]
    fn an_unticked_scope_is_reported_missing() {
        let required = ScopeSet::parse("openid https://www.googleapis.com/auth/calendar.events");
        let granted = ScopeSet::parse("openid");
        assert_eq!(required.missing_from(&granted), vec!["https://www.googleapis.com/auth/calendar.events".to_owned()]);
    }
}
