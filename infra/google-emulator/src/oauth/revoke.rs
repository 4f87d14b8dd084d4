//! The revocation endpoint (`POST /revoke`).
//!
//! Contract: the token comes from the form body (`token=`) or, as Google also
//! allows, the query string. Revoking either kind of token revokes the grant it
//! belongs to (every refresh and access token of that account and client), as
//! Google does; the account must consent again to get a refresh token. An
//! unknown, expired or already revoked token is 400 `invalid_token`. No client
//! authentication is required, as at Google.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::json;

use crate::faults::{Endpoint, intercept};
use crate::google_errors::{OAuthError, no_store};
use crate::server::ConnectionControl;
use crate::state::{GrantId, Revocation, SharedEmulator, Store};
use emulator_kit::form::FormPairs;

pub(super) async fn revoke(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::Revoke], &[]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let from_body = FormPairs::parse(&body);
    let from_query = FormPairs::parse(query.unwrap_or_default().as_bytes());
    let token = match (from_body.single("token"), from_query.single("token")) {
        (Ok(Some(token)), _) | (Ok(None), Ok(Some(token))) => Ok(token.to_owned()),
        (Err(repeated), _) | (_, Err(repeated)) => Err(OAuthError::invalid_request(repeated.to_string())),
        (Ok(None), Ok(None)) => Err(OAuthError::invalid_request("Missing required parameter: token")),
    };
    let result = token.and_then(|token| {
        let mut store = emulator.store();
        revoke_grant_of(&mut store, &token).ok_or_else(|| OAuthError::invalid_token("Token expired or revoked"))
    });
    let response = match result {
        Ok(()) => {
            let mut response = (StatusCode::OK, axum::Json(json!({}))).into_response();
            no_store(&mut response);
            response
        }
        Err(error) => error.into_response(),
    };
    after.deliver(&connection, response).await
}

/// Revokes the live grant behind `token`; `None` when there is none.
fn revoke_grant_of(store: &mut Store, token: &str) -> Option<()> {
    let now = Timestamp::now();
    let (kind, grant, account, client_id): (&'static str, GrantId, String, String) =
        if let Some(refresh) = store.refresh_tokens.iter().find(|t| t.token == token && !t.revoked) {
            ("refresh_token", refresh.grant, refresh.account.clone(), refresh.client_id.clone())
        } else {
            let access = store.access_tokens.iter().find(|t| t.token == token && !t.revoked && now < t.expires_at)?;
            ("access_token", access.grant, access.account.clone(), access.client_id.clone())
        };
    if store.grants[grant].revoked {
        return None;
    }
    store.revoke_grant(grant);
    store.revocations.push(Revocation { token_kind: kind, token: token.to_owned(), account, client_id, at: now });
    Some(())
}
