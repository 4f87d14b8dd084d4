//! Cryptographically secure randomness from the operating system.

use base64::Engine as _;

/// `N` random bytes. The OS generator failing is unrecoverable for a service that mints keys
/// and tokens, so it panics rather than degrade.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random number generator failed");
    out
}

/// 32 random bytes, base64url without padding (43 characters): tickets, states, cookies.
pub fn token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes::<32>())
}
