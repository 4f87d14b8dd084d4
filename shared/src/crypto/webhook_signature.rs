//! Zoom's webhook signature: `x-zm-signature: v0=<hex HMAC-SHA256(secret_token,
//! "v0:{x-zm-request-timestamp}:{raw body}")>`, and the answer to its URL validation challenge,
//! `hex HMAC-SHA256(secret_token, plainToken)`.
//!
//! Contract: [`verify`] accepts a delivery only when both headers parse, the timestamp is within
//! [`MAX_CLOCK_SKEW`] of now in either direction, and the MAC over the exact raw body matches,
//! compared in constant time (`hmac`'s `verify_slice`). It says nothing about which of these
//! failed beyond [`SignatureError`]'s variant, and never holds the secret beyond the call.

use data_encoding::HEXLOWER_PERMISSIVE;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a delivery's timestamp may be from our clock, either way (Zoom's guidance).
pub const MAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp or signature header is missing, repeated or malformed")]
    Malformed,
    #[error("the request timestamp is too far from the current time")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

fn mac(secret_token: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret_token).expect("HMAC takes a key of any length")
}

/// `v0=` + hex HMAC over `v0:{timestamp}:{body}`: what Zoom sends (tests and emulators sign with it).
pub fn sign(secret_token: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = mac(secret_token);
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()))
}

/// Checks one delivery's headers (`timestamp`, `signature`: the single values, `None` when
/// missing or repeated) against its raw body at `now`.
pub fn verify(
    secret_token: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Malformed);
    };
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) || timestamp.len() > 12 {
        return Err(SignatureError::Malformed);
    }
    let seconds: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    let tag = signature
        .strip_prefix("v0=")
        .and_then(|hex| HEXLOWER_PERMISSIVE.decode(hex.as_bytes()).ok())
        .filter(|tag| tag.len() == 32)
        .ok_or(SignatureError::Malformed)?;
    let skew = SignedDuration::from_secs(now.as_second() - seconds).abs();
    if skew > MAX_CLOCK_SKEW {
        return Err(SignatureError::Stale);
    }
    let mut mac = mac(secret_token);
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// The `encryptedToken` of a URL validation answer: hex HMAC-SHA256(secret_token, plainToken).
pub fn url_validation_token(secret_token: &[u8], plain_token: &str) -> String {
    let mut mac = mac(secret_token);
    mac.update(plain_token.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"calbridge-zoom-local-webhook-secret";

    #[test]
    fn a_signature_verifies_only_for_its_exact_timestamp_body_and_secret() {
        let now: Timestamp = "2026-12-02T20:00:00Z".parse().unwrap();
        let ts = now.as_second().to_string();
        let body = br#"{"event":"app_deauthorized"}"#;
        let good = sign(SECRET, &ts, body);
        assert_eq!(verify(SECRET, Some(ts.as_str()), Some(good.as_str()), body, now), Ok(()));
        let upper = good.to_uppercase().replace("V0=", "v0=");
        assert_eq!(verify(SECRET, Some(ts.as_str()), Some(upper.as_str()), body, now), Ok(()), "hex of either case");
        let other_ts = (now.as_second() - 1).to_string();
        for (timestamp, signature, body, secret, expected) in [
            (
                Some(ts.as_str()),
                Some(good.as_str()),
                &br#"{"event":"app_deauthorized" }"#[..],
                SECRET,
                SignatureError::Mismatch,
            ),
            (Some(other_ts.as_str()), Some(good.as_str()), &body[..], SECRET, SignatureError::Mismatch),
            (Some(ts.as_str()), Some(good.as_str()), &body[..], &b"another-secret"[..], SignatureError::Mismatch),
            (None, Some(good.as_str()), &body[..], SECRET, SignatureError::Malformed),
            (Some(ts.as_str()), None, &body[..], SECRET, SignatureError::Malformed),
            (Some(ts.as_str()), Some(&good[3..]), &body[..], SECRET, SignatureError::Malformed),
            (Some(ts.as_str()), Some("v0=abcd"), &body[..], SECRET, SignatureError::Malformed),
            (Some("-1"), Some(good.as_str()), &body[..], SECRET, SignatureError::Malformed),
            (Some("1e9"), Some(good.as_str()), &body[..], SECRET, SignatureError::Malformed),
        ] {
            assert_eq!(verify(secret, timestamp, signature, body, now), Err(expected), "{timestamp:?} {signature:?}");
        }
    }

    #[test]
    fn the_timestamp_must_be_within_five_minutes_either_way() {
        let now: Timestamp = "2026-12-02T20:00:00Z".parse().unwrap();
        let body = b"{}";
        for (offset, ok) in [(-300, true), (300, true), (-301, false), (301, false), (0, true)] {
            let ts = (now.as_second() + offset).to_string();
            let signature = sign(SECRET, &ts, body);
            let result = verify(SECRET, Some(ts.as_str()), Some(signature.as_str()), body, now);
            assert_eq!(result.is_ok(), ok, "offset {offset}: {result:?}");
            if !ok {
                assert_eq!(result, Err(SignatureError::Stale));
            }
        }
    }

    #[test]
    fn the_url_validation_token_is_the_hex_hmac_of_the_plain_token() {
        // Computed independently: printf %s qgg8vlvZRS6UYooatFL8Aw | openssl dgst -sha256 -hmac <secret>
        let token = url_validation_token(SECRET, "qgg8vlvZRS6UYooatFL8Aw");
        assert_eq!(token, "fe50fa79c77343c47a0f1694e2d4c1d41bf8349dbc062295dddd68d14beedc32");
        assert_ne!(token, url_validation_token(b"other", "qgg8vlvZRS6UYooatFL8Aw"));
    }
}
