//! The OpenID Connect userinfo endpoint (Google serves it as
//! `openidconnect.googleapis.com/v1/userinfo`).
//!
//! Contract: a live Bearer access token with `openid`, `email` or `profile`
//! granted gets the claims those scopes cover, as Google does: `sub` always,
//! `email` and `email_verified` with the email scope, `name` with the profile
//! scope. A bad token is 401 with `WWW-Authenticate: Bearer error="invalid_token"`;
//! a token without any of those scopes is 403 `insufficient_scope`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{bearer_token, scopes};
use crate::faults::{Endpoint, intercept};
use crate::server::ConnectionControl;
use crate::state::SharedEmulator;

pub(super) async fn userinfo(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::Userinfo], &[]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let response = {
        let store = emulator.store();
        let caller = bearer_token(&headers).and_then(|token| store.authenticate(token, Timestamp::now()));
        match caller {
            None => challenge(
                StatusCode::UNAUTHORIZED,
                "Bearer error=\"invalid_token\"",
                json!({"error": "invalid_token", "error_description": "Invalid Credentials"}),
            ),
            Some(caller) => {
                let email = caller.scopes.contains(scopes::USERINFO_EMAIL);
                let profile = caller.scopes.contains(scopes::USERINFO_PROFILE);
                if !(email || profile || caller.scopes.contains(scopes::OPENID)) {
                    challenge(
                        StatusCode::FORBIDDEN,
                        "Bearer error=\"insufficient_scope\"",
                        json!({"error": "insufficient_scope", "error_description": "Insufficient Permission"}),
                    )
                } else {
                    let account = &store.accounts[&caller.account];
                    let mut claims = json!({ "sub": account.sub });
                    if email {
                        claims["email"] = Value::from(account.email.clone());
                        claims["email_verified"] = Value::from(true);
                    }
                    if profile {
                        claims["name"] = Value::from(account.name.clone());
                    }
                    axum::Json(claims).into_response()
                }
            }
        }
    };
    after.deliver(&connection, response).await
}

fn challenge(status: StatusCode, www_authenticate: &'static str, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(www_authenticate));
    response
}
