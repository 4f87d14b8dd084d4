//! The revocation endpoint.
//!
//! Contract: `POST /oauth/revoke` with HTTP Basic app credentials and `token=`
//! (query string or form body) naming an access or refresh token of that app.
//! It revokes the whole grant (every token of that user and app) and answers
//! `{"status":"success"}`. Unknown, rotated-out, already revoked or another app's
//! token → 400 `invalid_request` "Invalid Token!"; bad credentials → 401
//! `invalid_client`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::authenticate_client;
use crate::faults::{Endpoint, intercept};
use crate::server::ConnectionControl;
use crate::state::{SharedEmulator, Store};
use crate::zoom_errors::{OAuthError, no_store};
use emulator_kit::form::FormPairs;

/// `POST /oauth/revoke`.
pub(super) async fn revoke(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::Revoke]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let mut parameters = FormPairs::parse(query.unwrap_or_default().as_bytes());
    parameters.0.extend(FormPairs::parse(&body).0);
    let result = {
        let mut store = emulator.store();
        authenticate_client(&store, &headers).and_then(|client_id| {
            let token = match parameters.single("token") {
                Ok(Some(token)) => token,
                Ok(None) => return Err(OAuthError::invalid_request("Missing token")),
                Err(repeated) => return Err(OAuthError::invalid_request(repeated.to_string())),
            };
            let grant = live_grant_of(&store, &client_id, token)
                .ok_or_else(|| OAuthError::invalid_request("Invalid Token!"))?;
            store.revoke_grant(grant, "revoke");
            Ok(())
        })
    };
    let response = match result {
        Ok(()) => {
            let mut response = (StatusCode::OK, axum::Json(json!({"status": "success"}))).into_response();
            no_store(&mut response);
            response
        }
        Err(refusal) => refusal.into_response(),
    };
    after.deliver(&connection, response).await
}

fn live_grant_of(store: &Store, client_id: &str, token: &str) -> Option<usize> {
    let access =
        store.access_tokens.iter().find(|t| t.token == token && !t.revoked).map(|t| (t.grant, t.client_id.as_str()));
    let refresh = || {
        store.refresh_tokens.iter().find(|t| t.token == token && !t.revoked).map(|t| (t.grant, t.client_id.as_str()))
    };
    let (grant, owner) = access.or_else(refresh)?;
    (owner == client_id && !store.grants[grant].revoked).then_some(grant)
}
