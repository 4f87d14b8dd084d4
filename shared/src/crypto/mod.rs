//! Everything cryptographic, in one place: envelope encryption of stored secrets
//! ([`vault`]), the sealed OAuth token payload ([`tokens`]), the signed OAuth `state`
//! ([`oauth_state`]) and the operating system's randomness ([`random`]).

pub mod oauth_state;
pub mod random;
pub mod tokens;
pub mod vault;
