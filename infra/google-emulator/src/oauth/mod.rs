//! Google's OAuth 2.0 and OpenID Connect endpoints, all on one host, under the
//! paths Google uses.
//!
//! Contract: `GET /o/oauth2/v2/auth` validates strictly and shows a consent page;
//! `POST /o/oauth2/v2/auth/decision` is that page's form (scriptable: see
//! [`authorize`]); `POST /token` exchanges codes and refresh tokens;
//! `POST /revoke` revokes a whole grant; `GET /v1/userinfo`, `GET /oauth2/v3/certs`
//! and `GET /.well-known/openid-configuration` complete OpenID Connect.
//! Alias paths Google also serves (`/oauth2/v4/token`, `/o/oauth2/revoke`,
//! `/oauth2/v3/userinfo`) behave identically.

mod authorize;
mod consent_page;
mod discovery;
mod revoke;
pub(crate) mod scopes;
mod token;
mod userinfo;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};

use crate::state::SharedEmulator;

pub(crate) fn routes() -> Router<SharedEmulator> {
    Router::new()
        .route("/o/oauth2/v2/auth", get(authorize::show_consent_page))
        .route("/o/oauth2/v2/auth/decision", post(authorize::decide))
        .route("/token", post(token::token))
        .route("/oauth2/v4/token", post(token::token))
        .route("/revoke", post(revoke::revoke))
        .route("/o/oauth2/revoke", post(revoke::revoke))
        .route("/v1/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/oauth2/v3/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/oauth2/v3/certs", get(discovery::jwks))
        .route("/.well-known/openid-configuration", get(discovery::openid_configuration))
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
