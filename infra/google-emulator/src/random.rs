//! Unguessable identifiers in the shapes Google uses (`ya29.` access tokens,
//! `1//` refresh tokens, `4/0A` codes, base32hex event ids, `abc-defg-hij` Meet
//! codes).
//!
//! Contract: every value comes from the operating system's CSPRNG, so tests that
//! scan calbridge's storage and logs for these strings never match by accident.

use emulator_kit::random::{bytes as random_bytes, url_safe};

pub(crate) fn authorization_code() -> String {
    format!("4/0A{}", url_safe::<48>())
}

pub(crate) fn access_token() -> String {
    format!("ya29.{}", url_safe::<64>())
}

pub(crate) fn refresh_token() -> String {
    format!("1//0{}", url_safe::<48>())
}

/// A subject identifier for accounts added without one: 21 decimal digits like Google's.
pub(crate) fn subject() -> String {
    let bytes = random_bytes::<16>();
    let number = u128::from_le_bytes(bytes) % 10u128.pow(20);
    format!("1{number:020}")
}

/// Characters of base32hex (RFC 4648 §7), lowercase: the alphabet of event ids.
const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// An event id as Google generates them: 26 base32hex characters.
pub(crate) fn event_id() -> String {
    random_bytes::<26>().iter().map(|byte| BASE32HEX[usize::from(byte % 32)] as char).collect()
}

/// A Gmail message or thread id: 16 lowercase hex digits, as Gmail writes them.
pub(crate) fn gmail_id() -> String {
    random_bytes::<8>().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A Meet conference code such as `abc-defg-hij`.
pub(crate) fn meet_code() -> String {
    let letters: Vec<char> = random_bytes::<10>().iter().map(|byte| (b'a' + byte % 26) as char).collect();
    let part = |range: std::ops::Range<usize>| letters[range].iter().collect::<String>();
    format!("{}-{}-{}", part(0..3), part(3..7), part(7..10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_googles_shapes() {
        assert!(access_token().starts_with("ya29."));
        assert!(refresh_token().starts_with("1//"));
        let id = event_id();
        assert_eq!(id.len(), 26);
        assert!(id.bytes().all(|b| BASE32HEX.contains(&b)));
        let code = meet_code();
        assert_eq!(code.len(), 12);
        assert_eq!(code.matches('-').count(), 2);
        assert_eq!(subject().len(), 21);
        assert_ne!(access_token(), access_token());
    }
}
