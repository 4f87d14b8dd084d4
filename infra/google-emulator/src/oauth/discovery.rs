//! OpenID Connect discovery and the signing keys (JWKS).
//!
//! Contract: the discovery document names the configured issuer and points every
//! endpoint at this host (the configured public base URL, else the request's
//! `Host` over http), so a discovery-driven client needs only the base URL.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::faults::{Endpoint, intercept};
use crate::server::ConnectionControl;
use crate::signing;
use crate::state::SharedEmulator;

/// `GET /oauth2/v3/certs`.
pub(super) async fn jwks(State(emulator): State<SharedEmulator>, connection: ConnectionControl) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::Jwks], &[]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let mut response = axum::Json(signing::jwks()).into_response();
    // Google lets verifiers cache its keys for hours.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=21600, must-revalidate, no-transform"),
    );
    after.deliver(&connection, response).await
}

/// `GET /.well-known/openid-configuration`.
pub(super) async fn openid_configuration(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::Discovery], &[]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let base = emulator.config.public_base_url.clone().unwrap_or_else(|| {
        let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("127.0.0.1");
        format!("http://{host}")
    });
    let document = json!({
        "issuer": emulator.config.issuer,
        "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/v1/userinfo"),
        "revocation_endpoint": format!("{base}/revoke"),
        "jwks_uri": format!("{base}/oauth2/v3/certs"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "name", "sub", "azp", "at_hash", "nonce"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
    });
    after.deliver(&connection, axum::Json(document).into_response()).await
}
