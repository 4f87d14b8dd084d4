//! Booking-link tokens: the bearer capability a patient without a login holds, and the signing
//! keys that make it unforgeable.
//!
//! Format: `<payload>.<mac>`, both base64url without padding, where the payload is the text
//! `v1.{kid}.{link id}.{expires unix seconds}.{tenant}` (the tenant last, because a tenant id may
//! contain dots; kids and link ids may not) and `mac` is HMAC-SHA256 over
//! `calbridge/booking-link/v1|` + payload under the key named `kid`. The token carries only
//! what is needed to find the link and refuse a dead one before any storage read; the users,
//! window and rules it serves live in the stored record, so they cannot be tampered with and
//! the token stays short (about 110 characters).
//!
//! Contract:
//! - [`verify`] checks, in this order: shape and size (else [`BookingTokenError::Malformed`]),
//!   a known kid and the MAC in constant time (`Mac::verify_slice`; else
//!   [`BookingTokenError::BadSignature`]), then expiry (`now >= expires`:
//!   [`BookingTokenError::Expired`]). Nothing in a refused token is trusted or echoed.
//! - Keys ([`BookingSigningKeys`]) are a non-empty list with ids: the first signs, every one
//!   verifies. Rotation is "prepend a new key, drop the old one once the links it signed have
//!   expired" (`infra/DEPLOY.md`, "Booking links"), so no live link ever stops verifying.
//! - A deployment without explicit keys gets one key, id [`DERIVED_KEY_ID`], derived from the
//!   state-signing key with HKDF-Expand (RFC 5869) under a label of its own. The state key is
//!   itself 32+ random bytes, which RFC 5869 section 3.3 allows to stand in for the extract
//!   step's output; the distinct label makes the derived key independent of the state key, so
//!   neither MAC can be turned into the other.
//! - Key material never appears in `Debug`, `Display` or an error message (errors name a key's
//!   position, not its value).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;

use crate::domain::{BookingLinkId, TenantId};

type HmacSha256 = Hmac<Sha256>;

const VERSION: &str = "v1";
const DOMAIN: &[u8] = b"calbridge/booking-link/v1|";
/// The HKDF `info` of the key derived from the state-signing key.
const DERIVATION_LABEL: &[u8] = b"calbridge/booking-link/v1 signing key";
/// The id of the key derived from the state-signing key.
pub const DERIVED_KEY_ID: &str = "state";
/// The shortest signing key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;
/// The longest key id accepted.
pub const MAX_KEY_ID_LEN: usize = 32;
/// Tokens longer than this are malformed before anything is decoded.
const MAX_TOKEN_LEN: usize = 1024;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingClaims {
    pub link_id: BookingLinkId,
    pub tenant: TenantId,
    /// Whole seconds.
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookingTokenError {
    #[error("booking link is malformed")]
    Malformed,
    #[error("booking link signature is invalid")]
    BadSignature,
    #[error("booking link has expired")]
    Expired,
}

/// Why configured booking keys were refused; names a key by position, never by value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingKeysError {
    #[error("booking signing keys: the list is empty")]
    Empty,
    #[error(
        "booking signing keys: entry {0} must be `id:base64` with an id of 1 to {MAX_KEY_ID_LEN} letters, digits, `-` or `_`"
    )]
    BadEntry(usize),
    #[error("booking signing keys: entry {0} must be at least {MIN_KEY_BYTES} bytes, base64-encoded")]
    ShortKey(usize),
    #[error("booking signing keys: entry {0} repeats an earlier id")]
    DuplicateId(usize),
}

struct SigningKey {
    id: String,
    key: SecretBox<Vec<u8>>,
}

/// The keys booking links are signed and verified with: never empty, the first signs.
pub struct BookingSigningKeys {
    keys: Vec<SigningKey>,
}

impl BookingSigningKeys {
    /// Parses `id:base64,id:base64` (standard base64, at least [`MIN_KEY_BYTES`] bytes each),
    /// the form of `BOOKING_SIGNING_KEYS` and of the secret's `booking_signing_keys` field.
    pub fn parse(raw: &str) -> Result<Self, BookingKeysError> {
        let mut keys: Vec<SigningKey> = Vec::new();
        for (index, entry) in raw.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            let (id, encoded) = entry.split_once(':').ok_or(BookingKeysError::BadEntry(index))?;
            let id = id.trim();
            if !valid_key_id(id) {
                return Err(BookingKeysError::BadEntry(index));
            }
            let key = B64.decode(encoded.trim()).map_err(|_| BookingKeysError::ShortKey(index))?;
            if key.len() < MIN_KEY_BYTES {
                return Err(BookingKeysError::ShortKey(index));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(BookingKeysError::DuplicateId(index));
            }
            keys.push(SigningKey { id: id.to_owned(), key: SecretBox::new(Box::new(key)) });
        }
        if keys.is_empty() {
            return Err(BookingKeysError::Empty);
        }
        Ok(Self { keys })
    }

    /// The one key of a deployment that configured none: HKDF-Expand of the state-signing key
    /// under the booking-link label (see the module doc for why that is safe).
    pub fn derived_from_state_key(state_signing_key: &[u8]) -> Self {
        let mut expand = HmacSha256::new_from_slice(state_signing_key).expect("HMAC accepts keys of any length");
        expand.update(DERIVATION_LABEL);
        expand.update(&[1]);
        let key = expand.finalize().into_bytes().to_vec();
        Self { keys: vec![SigningKey { id: DERIVED_KEY_ID.to_owned(), key: SecretBox::new(Box::new(key)) }] }
    }

    /// The id of the key new links are signed with.
    pub fn signing_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// The ids of every verifying key, signing key first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    fn key(&self, id: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

impl Clone for BookingSigningKeys {
    fn clone(&self) -> Self {
        let keys = self
            .keys
            .iter()
            .map(|k| SigningKey { id: k.id.clone(), key: SecretBox::new(Box::new(k.key.expose_secret().clone())) })
            .collect();
        Self { keys }
    }
}

impl std::fmt::Debug for BookingSigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookingSigningKeys").field("ids", &self.key_ids().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

fn valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A link id may go into a token only if it has the token's alphabet (base64url, no dots).
fn valid_link_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn mac(key: &SigningKey, payload: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key.key.expose_secret()).expect("HMAC accepts keys of any length");
    mac.update(DOMAIN);
    mac.update(payload.as_bytes());
    mac
}

/// A fresh link id: 16 random bytes, base64url (22 characters).
pub fn new_link_id() -> BookingLinkId {
    BookingLinkId::parse(&B64URL.encode(crate::crypto::random::bytes::<16>())).expect("base64url is a valid id")
}

/// Signs `claims` with the signing key. `expires_at` is taken in whole seconds (rounded down).
///
/// # Panics
/// If the link id is not base64url (ids come from [`new_link_id`]).
pub fn mint(keys: &BookingSigningKeys, claims: &BookingClaims) -> String {
    assert!(valid_link_id(claims.link_id.as_str()), "booking link ids are base64url");
    let key = &keys.keys[0];
    let payload =
        format!("{VERSION}.{}.{}.{}.{}", key.id, claims.link_id, claims.expires_at.as_second(), claims.tenant);
    let tag = mac(key, &payload).finalize().into_bytes();
    format!("{}.{}", B64URL.encode(payload), B64URL.encode(tag))
}

/// Checks a token's shape, signature (in constant time) and expiry, and returns its claims.
pub fn verify(keys: &BookingSigningKeys, token: &str, now: Timestamp) -> Result<BookingClaims, BookingTokenError> {
    use BookingTokenError::{BadSignature, Expired, Malformed};
    if token.len() > MAX_TOKEN_LEN {
        return Err(Malformed);
    }
    let (payload, tag) = token.split_once('.').ok_or(Malformed)?;
    let payload = String::from_utf8(B64URL.decode(payload).map_err(|_| Malformed)?).map_err(|_| Malformed)?;
    let tag = B64URL.decode(tag).map_err(|_| Malformed)?;
    let mut parts = payload.splitn(5, '.');
    let (Some(VERSION), Some(kid), Some(link_id), Some(expires), Some(tenant)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed);
    };
    let key = keys.key(kid).ok_or(BadSignature)?;
    mac(key, &payload).verify_slice(&tag).map_err(|_| BadSignature)?;
    // Signed by us, so well-formed unless a key signed something we never mint.
    let expires: i64 = expires.parse().map_err(|_| Malformed)?;
    let expires_at = Timestamp::from_second(expires).map_err(|_| Malformed)?;
    let link_id = BookingLinkId::parse(link_id).map_err(|_| Malformed)?;
    let tenant = TenantId::parse(tenant).map_err(|_| Malformed)?;
    if now >= expires_at {
        return Err(Expired);
    }
    Ok(BookingClaims { link_id, tenant, expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
    const KEY_B: &str = "YW5vdGhlciBrZXkgb2YgdGhpcnR5LXR3byBieXRlcyE="; // 32 bytes

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn keys(raw: &str) -> BookingSigningKeys {
        BookingSigningKeys::parse(raw).unwrap()
    }

    fn claims(tenant: &str) -> BookingClaims {
        BookingClaims {
            link_id: BookingLinkId::parse("AAECAwQFBgcICQoLDA0ODw").unwrap(),
            tenant: TenantId::parse(tenant).unwrap(),
            expires_at: at(2_000_000_000),
        }
    }

    /// The token with its payload text replaced, signed by nobody (the old tag kept).
    fn with_payload(token: &str, payload: &str) -> String {
        let tag = token.split_once('.').unwrap().1;
        format!("{}.{tag}", B64URL.encode(payload))
    }

    fn payload_of(token: &str) -> String {
        String::from_utf8(B64URL.decode(token.split_once('.').unwrap().0).unwrap()).unwrap()
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires_and_is_url_safe() {
        let keys = keys(&format!("k1:{KEY_A}"));
        let token = mint(&keys, &claims("clinic.42"));
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{token}");
        assert!(token.len() < 140, "{} characters", token.len());
        assert_eq!(verify(&keys, &token, at(1_999_999_999)), Ok(claims("clinic.42")));
        assert_eq!(verify(&keys, &token, at(2_000_000_000)), Err(BookingTokenError::Expired));
    }

    #[test]
    fn adversarial_tokens_are_refused() {
        use BookingTokenError::{BadSignature, Expired, Malformed};
        let keys = keys(&format!("k1:{KEY_A}"));
        let token = mint(&keys, &claims("clinic-42"));
        let payload = payload_of(&token);
        let now = at(1_000);

        // Every single flipped character of the token is refused.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != token {
                assert!(verify(&keys, &tampered, now).is_err(), "flipped byte {i}: {tampered}");
            }
        }

        let expired_keys = keys.clone();
        let cases: Vec<(&str, String, BookingTokenError)> = vec![
            ("other tenant", with_payload(&token, &payload.replace("clinic-42", "clinic-43")), BadSignature),
            ("later expiry", with_payload(&token, &payload.replace("2000000000", "2000000001")), BadSignature),
            ("other link", with_payload(&token, &payload.replace("AAEC", "AAED")), BadSignature),
            ("unknown kid", with_payload(&token, &payload.replacen("k1", "k9", 1)), BadSignature),
            ("wrong key", mint(&keys_of_b(), &claims("clinic-42")), BadSignature),
            ("truncated tag", token[..token.len() - 3].to_owned(), BadSignature),
            ("truncated payload", token[4..].to_owned(), Malformed),
            ("no tag", token.split_once('.').unwrap().0.to_owned(), Malformed),
            ("empty", String::new(), Malformed),
            ("extra part", format!("{token}.AAAA"), Malformed),
            ("not base64", "!!!.???".to_owned(), Malformed),
            ("other version", with_payload(&token, &payload.replacen("v1", "v2", 1)), Malformed),
            ("huge", "A".repeat(5_000), Malformed),
        ];
        for (name, bad, expected) in cases {
            assert_eq!(verify(&expired_keys, &bad, now), Err(expected), "{name}");
        }
        assert_eq!(verify(&keys, &token, at(3_000_000_000)), Err(Expired));
    }

    fn keys_of_b() -> BookingSigningKeys {
        keys(&format!("k1:{KEY_B}"))
    }

    #[test]
    fn rotation_keeps_old_links_alive_and_signs_with_the_first_key() {
        let old = keys(&format!("k1:{KEY_A}"));
        let old_token = mint(&old, &claims("t1"));
        let rotated = keys(&format!("k2:{KEY_B},k1:{KEY_A}"));
        assert_eq!(rotated.signing_key_id(), "k2");
        assert_eq!(verify(&rotated, &old_token, at(0)), Ok(claims("t1")));
        let new_token = mint(&rotated, &claims("t1"));
        assert!(payload_of(&new_token).starts_with("v1.k2."));
        assert_eq!(verify(&old, &new_token, at(0)), Err(BookingTokenError::BadSignature));
        // Dropping the old key retires its links.
        assert_eq!(verify(&keys(&format!("k2:{KEY_B}")), &old_token, at(0)), Err(BookingTokenError::BadSignature));
    }

    #[test]
    fn key_lists_are_checked_without_echoing_a_key() {
        let short = B64.encode([7u8; 31]);
        for (raw, expected) in [
            ("", BookingKeysError::Empty),
            (" , ", BookingKeysError::Empty),
            (KEY_A, BookingKeysError::BadEntry(0)),
            (&format!("bad id:{KEY_A}") as &str, BookingKeysError::BadEntry(0)),
            (&format!("k1:{KEY_A},k.2:{KEY_B}"), BookingKeysError::BadEntry(1)),
            (&format!("k1:{short}"), BookingKeysError::ShortKey(0)),
            (&format!("k1:{KEY_A},k1:{KEY_B}"), BookingKeysError::DuplicateId(1)),
            ("k1:not base64!!", BookingKeysError::ShortKey(0)),
        ] {
            let error = BookingSigningKeys::parse(raw).unwrap_err();
            assert_eq!(error, expected, "{raw:?}");
            assert!(!error.to_string().contains(KEY_A) && !error.to_string().contains(&short));
        }
        let parsed = keys(&format!(" k2 : {KEY_B} , k1:{KEY_A} "));
        assert_eq!(parsed.key_ids().collect::<Vec<_>>(), ["k2", "k1"]);
        assert!(!format!("{parsed:?}").contains(KEY_B));
    }

    #[test]
    fn the_derived_key_is_not_the_state_key() {
        let state_key = B64.decode(KEY_A).unwrap();
        let derived = BookingSigningKeys::derived_from_state_key(&state_key);
        assert_eq!(derived.signing_key_id(), DERIVED_KEY_ID);
        let token = mint(&derived, &claims("t1"));
        assert_eq!(verify(&derived, &token, at(0)), Ok(claims("t1")));
        // The raw state key, under the same id, does not verify it.
        let raw = keys(&format!("{DERIVED_KEY_ID}:{KEY_A}"));
        assert_eq!(verify(&raw, &token, at(0)), Err(BookingTokenError::BadSignature));
        // Derivation is deterministic (every container derives the same key).
        let again = BookingSigningKeys::derived_from_state_key(&state_key);
        assert_eq!(verify(&again, &token, at(0)), Ok(claims("t1")));
    }
}
