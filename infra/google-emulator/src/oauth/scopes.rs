//! OAuth scope strings as Google reads, grants and reports them.
//!
//! Contract: scopes are compared in normalised form. Google reports the short
//! sign-in scopes `email` and `profile` as their `userinfo.*` URLs and keeps
//! `openid` as is; every other accepted scope is a
//! `https://www.googleapis.com/auth/...` URL. Reported scope lists are sorted and
//! space-separated.

use std::collections::BTreeSet;

pub(crate) const OPENID: &str = "openid";
pub(crate) const USERINFO_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
pub(crate) const USERINFO_PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";
pub(crate) const GOOGLE_SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";

/// A requested scope Google would refuse.
#[derive(Debug, thiserror::Error)]
#[error("Some requested scopes were invalid. {{invalid=[{0}]}}")]
pub(crate) struct InvalidScope(pub String);

/// The form Google reports a scope in.
pub(crate) fn normalise(scope: &str) -> String {
    match scope {
        "email" => USERINFO_EMAIL.to_owned(),
        "profile" => USERINFO_PROFILE.to_owned(),
        other => other.to_owned(),
    }
}

/// Sign-in scopes are granted with the sign-in itself; the consent page shows
/// them but does not let the user untick them.
pub(crate) fn is_sign_in(normalised: &str) -> bool {
    matches!(normalised, OPENID | USERINFO_EMAIL | USERINFO_PROFILE)
}

/// The `scope` parameter of an authorization request, normalised, duplicates
/// removed, in request order.
pub(crate) fn parse_requested(raw: &str) -> Result<Vec<String>, InvalidScope> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in raw.split_ascii_whitespace() {
        let normalised = normalise(scope);
        if !is_well_formed(&normalised) {
            return Err(InvalidScope(scope.to_owned()));
        }
        if !scopes.contains(&normalised) {
            scopes.push(normalised);
        }
    }
    Ok(scopes)
}

fn is_well_formed(normalised: &str) -> bool {
    if normalised == OPENID {
        return true;
    }
    normalised.strip_prefix(GOOGLE_SCOPE_PREFIX).is_some_and(|name| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    })
}

/// A scope list as Google reports it.
pub(crate) fn join(scopes: &BTreeSet<String>) -> String {
    scopes.iter().map(String::as_str).collect::<Vec<_>>().join(" ")
}

/// Whether `granted` holds at least one of `accepted` (short names below
/// [`GOOGLE_SCOPE_PREFIX`], e.g. `calendar.readonly`).
pub(crate) fn grants_any(granted: &BTreeSet<String>, accepted: &[&str]) -> bool {
    accepted.iter().any(|short| granted.contains(&format!("{GOOGLE_SCOPE_PREFIX}{short}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sign_in_scopes_are_reported_as_urls() {
        let scopes = parse_requested("openid email profile https://www.googleapis.com/auth/calendar email").unwrap();
        assert_eq!(scopes, vec![OPENID, USERINFO_EMAIL, USERINFO_PROFILE, "https://www.googleapis.com/auth/calendar"]);
    }

    #[test]
    fn unknown_scope_shapes_are_refused() {
        assert!(parse_requested("openid calendar").is_err());
        assert!(parse_requested("https://www.googleapis.com/auth/").is_err());
        assert!(parse_requested("https://example.com/auth/calendar").is_err());
    }

    #[test]
    fn scope_checks_use_full_urls() {
        let granted: BTreeSet<String> = ["https://www.googleapis.com/auth/calendar.readonly".to_owned()].into();
        assert!(grants_any(&granted, &["calendar", "calendar.readonly"]));
        assert!(!grants_any(&granted, &["calendar.events"]));
    }
}
