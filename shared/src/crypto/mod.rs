//! Everything cryptographic, in one place: envelope encryption of stored secrets
//! ([`vault`]), the sealed OAuth token payload ([`tokens`]), the signed OAuth `state`
//! ([`oauth_state`]), the signed booking-link token and its keys ([`booking_token`]) and the
//! operating system's randomness ([`random`]), Zoom's webhook signature ([`webhook_signature`]),
//! and the RSA signatures of JWTs (Google's id_tokens) on *ring* ([`jwt_ring`]).

pub mod booking_token;
pub mod jwt_ring;
pub mod oauth_state;
pub mod random;
pub mod tokens;
pub mod vault;
pub mod webhook_signature;
