//! Zoom's OAuth endpoints for user-managed apps, under the paths Zoom uses on
//! `https://zoom.us`.
//!
//! Contract: `GET /oauth/authorize` validates strictly and shows a consent page;
//! `POST /oauth/authorize/decision` is that page's form (the emulator's own path;
//! scriptable, see [`authorize`]); `POST /oauth/token` exchanges codes and rotates
//! refresh tokens; `POST /oauth/revoke` revokes a whole grant. Token and revoke
//! require HTTP Basic client authentication and answer errors as
//! `{"reason", "error"}`.

mod authorize;
mod consent_page;
mod revoke;
mod token;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::state::{SharedEmulator, Store};
use crate::zoom_errors::OAuthError;

pub(crate) fn routes() -> Router<SharedEmulator> {
    Router::new()
        .route("/oauth/authorize", get(authorize::show_consent_page))
        .route("/oauth/authorize/decision", post(authorize::decide))
        .route("/oauth/token", post(token::token))
        .route("/oauth/revoke", post(revoke::revoke))
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The app authenticated by `Authorization: Basic base64(client_id:client_secret)`.
/// Zoom takes client credentials only this way; anything else is `invalid_client`.
pub(super) fn authenticate_client(store: &Store, headers: &HeaderMap) -> Result<String, OAuthError> {
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim())
        .ok_or_else(OAuthError::invalid_client)?;
    let decoded = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(OAuthError::invalid_client)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(OAuthError::invalid_client)?;
    match store.clients.get(id) {
        Some(client) if client.client_secret == secret => Ok(id.to_owned()),
        _ => Err(OAuthError::invalid_client()),
    }
}

/// RFC 7636 §4.1: 43-128 characters of `[A-Za-z0-9-._~]`.
pub(super) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}
