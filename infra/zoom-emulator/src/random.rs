//! Unguessable identifiers in the shapes Zoom uses: JWT-shaped access and
//! refresh tokens and ZAKs, short authorization codes, 22-character user ids,
//! 11-digit meeting ids, base64 meeting UUIDs, meeting passcodes.
//!
//! Contract: every value comes from the operating system's CSPRNG, so tests that
//! scan calbridge's storage and logs for these strings never match by accident.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use emulator_kit::random::{bytes as random_bytes, url_safe};

/// `header.payload.signature`, each part base64url: what Zoom's tokens look like.
/// The payload is random, not claims: clients must treat the token as opaque.
fn jwt_shaped(kind: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(format!("{{\"alg\":\"HS512\",\"v\":\"2.0\",\"kid\":\"emulator-{kind}\"}}"));
    format!("{header}.{}.{}", url_safe::<48>(), url_safe::<32>())
}

pub(crate) fn access_token() -> String {
    jwt_shaped("access")
}

pub(crate) fn refresh_token() -> String {
    jwt_shaped("refresh")
}

pub(crate) fn zak() -> String {
    jwt_shaped("zak")
}

pub(crate) fn authorization_code() -> String {
    format!("{}_emu", url_safe::<24>())
}

/// A user or account id: 22 base64url characters.
pub(crate) fn zoom_id() -> String {
    url_safe::<16>()
}

/// A meeting UUID as Zoom prints them: standard base64 of 16 bytes (may hold `/` and `+`).
pub(crate) fn meeting_uuid() -> String {
    STANDARD.encode(random_bytes::<16>())
}

/// An 11-digit meeting id, as Zoom issues for scheduled meetings.
pub(crate) fn meeting_id() -> i64 {
    let number = u64::from_le_bytes(random_bytes::<8>()) % 10_000_000_000;
    80_000_000_000 + number as i64
}

/// A 6-character alphanumeric passcode.
pub(crate) fn passcode() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    random_bytes::<6>().iter().map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char).collect()
}

/// The `pwd` query value of a join URL (Zoom's "encrypted password").
pub(crate) fn encrypted_password() -> String {
    url_safe::<24>()
}

/// A `plainToken` for `endpoint.url_validation`.
pub(crate) fn plain_token() -> String {
    url_safe::<16>()
}

/// The `signature` field of an `app_deauthorized` payload: 64 hex characters.
pub(crate) fn deauthorization_signature() -> String {
    crate::webhooks::hex(&random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_zooms_shapes() {
        assert_eq!(access_token().split('.').count(), 3);
        assert!(access_token().starts_with("eyJ"));
        assert_ne!(access_token(), access_token());
        assert_eq!(zoom_id().len(), 22);
        let id = meeting_id();
        assert_eq!(id.to_string().len(), 11);
        assert_eq!(meeting_uuid().len(), 24);
        assert_eq!(passcode().len(), 6);
    }
}
