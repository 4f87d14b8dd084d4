//! The token endpoint: authorization-code and refresh-token grants.
//!
//! Contract: the app authenticates with HTTP Basic only; missing or wrong
//! credentials are 401 `invalid_client`. Parameters may come in the query string
//! (as Zoom's own examples send them) or the form body, never repeated across or
//! within the two. Codes are single-use, expire, belong to one app and one
//! redirect URI, and enforce PKCE S256 when the authorization request carried a
//! challenge; a replayed code revokes its whole grant (RFC 6749 §4.1.2).
//! Every refresh **rotates**: it returns a new refresh token and the presented
//! one stops working at once (Zoom's documented behaviour); a stale, revoked or
//! unknown refresh token is `invalid_grant`. Answers are `Cache-Control: no-store`
//! and carry `access_token`, `token_type: "bearer"`, `refresh_token`,
//! `expires_in`, `scope` (space-separated) and `api_url`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{authenticate_client, is_pkce_value};
use crate::config::EmulatorConfig;
use crate::faults::{Endpoint, intercept};
use crate::random;
use crate::server::ConnectionControl;
use crate::state::{AccessToken, GrantId, RefreshToken, SharedEmulator, Store};
use crate::zoom_errors::{OAuthError, no_store};
use emulator_kit::form::FormPairs;

/// Parameters RFC 6749 §3.2 forbids repeating.
const SINGLE_VALUED: [&str; 5] = ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token"];

const INVALID_CODE: &str = "Invalid authorization code";
const INVALID_TOKEN: &str = "Invalid Token!";

/// `POST /oauth/token`.
pub(super) async fn token(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut parameters = FormPairs::parse(query.unwrap_or_default().as_bytes());
    parameters.0.extend(FormPairs::parse(&body).0);
    let is_refresh = parameters.single("grant_type").ok().flatten() == Some("refresh_token");
    let endpoints: &[Endpoint] =
        if is_refresh { &[Endpoint::Token, Endpoint::TokenRefresh] } else { &[Endpoint::Token] };
    let after = match intercept(&emulator, &connection, endpoints).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let result = {
        let mut store = emulator.store();
        authenticate_client(&store, &headers).and_then(|client_id| {
            if let Some(repeated) = parameters.first_repeated(&SINGLE_VALUED) {
                return Err(OAuthError::invalid_request(repeated.to_string()));
            }
            match parameters.single("grant_type").ok().flatten() {
                None => Err(OAuthError::invalid_request("Missing grant type")),
                Some("authorization_code") => exchange_code(&mut store, &emulator.config, &client_id, &parameters),
                Some("refresh_token") => refresh(&mut store, &emulator.config, &client_id, &parameters),
                Some(_) => {
                    Err(OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Unsupported grant type"))
                }
            }
        })
    };
    let response = match result {
        Ok(body) => {
            let mut response = (StatusCode::OK, axum::Json(body)).into_response();
            no_store(&mut response);
            response
        }
        Err(refusal) => refusal.into_response(),
    };
    after.deliver(&connection, response).await
}

fn exchange_code(
    store: &mut Store,
    config: &EmulatorConfig,
    client_id: &str,
    parameters: &FormPairs,
) -> Result<Value, OAuthError> {
    let get = |name: &str| parameters.single(name).ok().flatten();
    let code = get("code").ok_or_else(|| OAuthError::invalid_request("Missing code"))?;
    let redirect_uri = get("redirect_uri").ok_or_else(|| OAuthError::invalid_request("Redirect URI mismatch."))?;
    let now = Timestamp::now();

    let index = store
        .codes
        .iter()
        .position(|candidate| candidate.code == code && candidate.client_id == client_id)
        .ok_or_else(|| OAuthError::invalid_grant(INVALID_CODE))?;
    let issued = &store.codes[index];
    if issued.used {
        // RFC 6749 §4.1.2: a replay suggests the code leaked, so what it minted dies.
        let grant = issued.grant;
        if !store.grants[grant].revoked {
            store.revoke_grant(grant, "code_replay");
        }
        return Err(OAuthError::invalid_grant(INVALID_CODE));
    }
    if now >= issued.expires_at || store.grants[issued.grant].revoked {
        return Err(OAuthError::invalid_grant(INVALID_CODE));
    }
    if issued.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_request("Redirect URI mismatch."));
    }
    match (&issued.code_challenge, get("code_verifier")) {
        (None, None) => {}
        (None, Some(_)) => return Err(OAuthError::invalid_request("code_verifier was not expected.")),
        (Some(_), None) => return Err(OAuthError::invalid_request("Missing code_verifier.")),
        (Some(challenge), Some(verifier)) => {
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !is_pkce_value(verifier) || &computed != challenge {
                return Err(OAuthError::invalid_grant("Invalid code_verifier."));
            }
        }
    }

    let grant = issued.grant;
    let user = issued.user.clone();
    store.codes[index].used = true;
    // Kept so tests can prove the client never logs or stores its verifier.
    store.codes[index].redeemed_with_verifier = get("code_verifier").map(str::to_owned);
    let access_token = issue_access_token(store, config, grant, &user, client_id, now);
    let refresh_token = issue_refresh_token(store, grant, &user, client_id);
    store.codes[index].minted = vec![access_token.clone(), refresh_token.clone()];
    Ok(token_response(store, config, grant, access_token, refresh_token))
}

fn refresh(
    store: &mut Store,
    config: &EmulatorConfig,
    client_id: &str,
    parameters: &FormPairs,
) -> Result<Value, OAuthError> {
    let presented = parameters
        .single("refresh_token")
        .ok()
        .flatten()
        .ok_or_else(|| OAuthError::invalid_request("Missing refresh_token"))?;
    let index = store
        .refresh_tokens
        .iter()
        .position(|candidate| candidate.token == presented)
        .filter(|&index| {
            let token = &store.refresh_tokens[index];
            !token.revoked && !store.grants[token.grant].revoked && token.client_id == client_id
        })
        .ok_or_else(|| OAuthError::invalid_grant(INVALID_TOKEN))?;
    let grant = store.refresh_tokens[index].grant;
    let user = store.refresh_tokens[index].user.clone();
    let now = Timestamp::now();
    let access_token = issue_access_token(store, config, grant, &user, client_id, now);
    let refresh_token = issue_refresh_token(store, grant, &user, client_id);
    let old = &mut store.refresh_tokens[index];
    old.revoked = true;
    old.rotated_to = Some(refresh_token.clone());
    Ok(token_response(store, config, grant, access_token, refresh_token))
}

fn issue_access_token(
    store: &mut Store,
    config: &EmulatorConfig,
    grant: GrantId,
    user: &str,
    client_id: &str,
    now: Timestamp,
) -> String {
    let token = random::access_token();
    let ttl = SignedDuration::try_from(config.access_token_ttl).unwrap_or(SignedDuration::MAX);
    let scopes = store.grants[grant].scopes.clone();
    store.access_tokens.push(AccessToken {
        token: token.clone(),
        user: user.to_owned(),
        client_id: client_id.to_owned(),
        grant,
        scopes,
        expires_at: now.checked_add(ttl).unwrap_or(Timestamp::MAX),
        revoked: false,
    });
    token
}

fn issue_refresh_token(store: &mut Store, grant: GrantId, user: &str, client_id: &str) -> String {
    let token = random::refresh_token();
    store.refresh_tokens.push(RefreshToken {
        token: token.clone(),
        user: user.to_owned(),
        client_id: client_id.to_owned(),
        grant,
        revoked: false,
        rotated_to: None,
    });
    token
}

fn token_response(
    store: &Store,
    config: &EmulatorConfig,
    grant: GrantId,
    access_token: String,
    refresh_token: String,
) -> Value {
    let scopes: Vec<&str> = store.grants[grant].scopes.iter().map(String::as_str).collect();
    json!({
        "access_token": access_token,
        "token_type": "bearer",
        "refresh_token": refresh_token,
        "expires_in": config.access_token_ttl.as_secs(),
        "scope": scopes.join(" "),
        "api_url": "https://api.zoom.us",
    })
}
