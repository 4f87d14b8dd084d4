//! Unguessable bytes for an emulator's tokens and ids, from the operating system's CSPRNG, so
//! tests that scan calbridge's storage and logs for issued values never match by accident.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Without OS randomness every token would be guessable; there is no
    // meaningful way to keep serving.
    getrandom::fill(&mut bytes).expect("the operating system refused to provide randomness");
    bytes
}

/// `N` random bytes, base64url without padding.
pub fn url_safe<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<N>())
}
