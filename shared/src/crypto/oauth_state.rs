//! The OAuth `state` parameter: signed, expiring, and (with its stored record) single-use.
//!
//! Format: `v1.<id>.<expires unix seconds>.<mac>`, where `id` is 32 random bytes and `mac` is
//! HMAC-SHA256 over `calbridge/oauth-state/v1|<id>|<expires>` with the state-signing key (all
//! base64url). The signature lets the callback refuse forged and expired states before any
//! storage read; the stored record, keyed by the SHA-256 of the whole state and deleted
//! conditionally on use, makes it single-use and carries what the flow needs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const VERSION: &str = "v1";
const DOMAIN: &[u8] = b"calbridge/oauth-state/v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("state is malformed")]
    Malformed,
    #[error("state signature is invalid")]
    BadSignature,
    #[error("state has expired")]
    Expired,
}

fn mac(key: &[u8], id: &str, expires: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(DOMAIN);
    mac.update(b"|");
    mac.update(id.as_bytes());
    mac.update(b"|");
    mac.update(expires.to_string().as_bytes());
    mac
}

/// Mints a new state that expires at `expires_at`.
pub fn mint(key: &[u8], expires_at: Timestamp) -> String {
    let id = crate::crypto::random::token();
    let expires = expires_at.as_second();
    let tag = B64URL.encode(mac(key, &id, expires).finalize().into_bytes());
    format!("{VERSION}.{id}.{expires}.{tag}")
}

/// Checks a state's signature (in constant time) and expiry.
pub fn verify(key: &[u8], state: &str, now: Timestamp) -> Result<(), StateError> {
    let mut parts = state.split('.');
    let (Some(VERSION), Some(id), Some(expires), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(StateError::Malformed);
    };
    let expires: i64 = expires.parse().map_err(|_| StateError::Malformed)?;
    let tag = B64URL.decode(tag).map_err(|_| StateError::Malformed)?;
    mac(key, id, expires).verify_slice(&tag).map_err(|_| StateError::BadSignature)?;
    if now.as_second() >= expires {
        return Err(StateError::Expired);
    }
    Ok(())
}

/// Hex SHA-256: how bearer values (tickets, states, browser-binding cookies) are stored.
pub fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn a_fresh_state_verifies_until_it_expires() {
        let state = mint(KEY, at(1_000));
        assert_eq!(verify(KEY, &state, at(999)), Ok(()));
        assert_eq!(verify(KEY, &state, at(1_000)), Err(StateError::Expired));
    }

    #[test]
    fn forgeries_are_refused() {
        let state = mint(KEY, at(1_000));
        assert_eq!(verify(b"another key of thirty-two bytes!", &state, at(0)), Err(StateError::BadSignature));
        // Extending the expiry invalidates the signature.
        let parts: Vec<&str> = state.split('.').collect();
        let extended = format!("{}.{}.{}.{}", parts[0], parts[1], 9_999, parts[3]);
        assert_eq!(verify(KEY, &extended, at(0)), Err(StateError::BadSignature));
        for junk in ["", "v1", "v1.a.b.c", "v2.a.1.c", "v1.a.1.c.d", "v1.a.1.!!"] {
            assert!(verify(KEY, junk, at(0)).is_err(), "{junk:?}");
        }
    }
}
