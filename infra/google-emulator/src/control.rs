//! Test-only control endpoints under `/_emulator`: seed, inject faults, inspect.
//!
//! Contract: these bypass OAuth entirely and speak plain JSON; refusals are
//! `{"error": "<why>"}` with 400 or 404. They are never counted as calls and
//! never hit by faults. What they return is the emulator's own record (issued
//! tokens, stored events, writes), so tests can check calbridge against what
//! "Google" saw rather than against calbridge's own bookkeeping.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::calendar;
use crate::config::{AccountConfig, OAuthClientConfig};
use crate::faults::{Fault, FaultSpec};
use crate::state::{SharedEmulator, Store};

pub(crate) fn routes() -> Router<SharedEmulator> {
    Router::new()
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/clients", post(register_client))
        .route("/_emulator/accounts", post(add_account))
        .route("/_emulator/calendars/{calendar_id}/events", get(stored_events).post(seed_events))
        .route("/_emulator/faults", get(list_faults).post(add_fault).delete(clear_faults))
        .route("/_emulator/calls", get(calls))
        .route("/_emulator/calls/reset", post(reset_calls))
        .route("/_emulator/tokens", get(tokens))
        .route("/_emulator/tokens/expire", post(expire_tokens))
        .route("/_emulator/writes", get(writes))
}

/// Why a control request was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ControlError {
    #[error("invalid JSON body: {0}")]
    Body(String),
    #[error(transparent)]
    Seed(#[from] crate::state::SeedError),
    #[error(transparent)]
    Fault(#[from] crate::faults::FaultSpecError),
    #[error("redirect URI {uri:?} is not an absolute URL: {reason}")]
    RedirectUri { uri: String, reason: url::ParseError },
    #[error("no calendar {0}")]
    UnknownCalendar(String),
    #[error("event rejected: {0}")]
    Event(String),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match self {
            ControlError::UnknownCalendar(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// The JSON body, with serde's message on failure instead of axum's plain text.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|error| ControlError::Body(error.to_string()))
}

async fn reset(State(emulator): State<SharedEmulator>) -> Json<Value> {
    emulator.reset();
    Json(json!({ "reset": true }))
}

async fn register_client(
    State(emulator): State<SharedEmulator>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let client: OAuthClientConfig = parse(&body)?;
    for uri in &client.redirect_uris {
        url::Url::parse(uri).map_err(|reason| ControlError::RedirectUri { uri: uri.clone(), reason })?;
    }
    emulator.store().upsert_client(client.clone())?;
    Ok(Json(json!(client)))
}

async fn add_account(
    State(emulator): State<SharedEmulator>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let account: AccountConfig = parse(&body)?;
    let email = account.email.trim().to_owned();
    let mut store = emulator.store();
    store.add_account(account)?;
    let added = &store.accounts[&email];
    Ok(Json(json!({
        "email": added.email,
        "sub": added.sub,
        "name": added.name,
        "calendars": added.calendar_list.iter().map(|entry| json!({
            "id": entry.calendar_id,
            "accessRole": entry.access_role.as_str(),
            "primary": entry.primary,
        })).collect::<Vec<_>>(),
    })))
}

async fn seed_events(
    State(emulator): State<SharedEmulator>,
    Path(calendar_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: Value = parse(&body)?;
    let events = match body {
        Value::Array(events) => events,
        single => vec![single],
    };
    let mut store = emulator.store();
    let stored = calendar::seed_events(&mut store, &calendar_id, events)?;
    Ok(Json(Value::Array(stored)))
}

async fn stored_events(
    State(emulator): State<SharedEmulator>,
    Path(calendar_id): Path<String>,
) -> Result<Json<Value>, ControlError> {
    let store = emulator.store();
    let calendar =
        store.calendars.get(&calendar_id).ok_or_else(|| ControlError::UnknownCalendar(calendar_id.clone()))?;
    let events = calendar.events.iter().map(|event| Value::Object(event.resource.clone())).collect();
    Ok(Json(Value::Array(events)))
}

async fn list_faults(State(emulator): State<SharedEmulator>) -> Json<Value> {
    Json(Value::Array(emulator.store().faults.describe()))
}

async fn add_fault(
    State(emulator): State<SharedEmulator>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let spec: FaultSpec = parse(&body)?;
    let fault = Fault::try_from(spec)?;
    let mut store = emulator.store();
    store.faults.push(fault);
    Ok(Json(json!({ "queued": store.faults.describe().len() })))
}

async fn clear_faults(State(emulator): State<SharedEmulator>) -> Json<Value> {
    emulator.store().faults.clear();
    Json(json!({ "queued": 0 }))
}

async fn calls(State(emulator): State<SharedEmulator>) -> Json<Value> {
    Json(json!(emulator.store().calls))
}

async fn reset_calls(State(emulator): State<SharedEmulator>) -> Json<Value> {
    emulator.store().calls.clear();
    Json(json!({}))
}

fn rfc3339(timestamp: Timestamp) -> String {
    format!("{timestamp:.3}")
}

async fn tokens(State(emulator): State<SharedEmulator>) -> Json<Value> {
    let store = emulator.store();
    Json(tokens_report(&store))
}

fn tokens_report(store: &Store) -> Value {
    let now = Timestamp::now();
    json!({
        "codes": store.codes.iter().map(|code| json!({
            "code": code.code,
            "account": code.account,
            "client_id": code.client_id,
            "used": code.used,
            "code_verifier": code.redeemed_with_verifier,
        })).collect::<Vec<_>>(),
        "access_tokens": store.access_tokens.iter().map(|token| json!({
            "token": token.token,
            "account": token.account,
            "client_id": token.client_id,
            "scopes": token.scopes,
            "expires_at": rfc3339(token.expires_at),
            "expired": now >= token.expires_at,
            "revoked": token.revoked || store.grants[token.grant].revoked,
        })).collect::<Vec<_>>(),
        "refresh_tokens": store.refresh_tokens.iter().map(|token| json!({
            "token": token.token,
            "account": token.account,
            "client_id": token.client_id,
            "scopes": token.scopes,
            "revoked": token.revoked || store.grants[token.grant].revoked,
        })).collect::<Vec<_>>(),
        "revocations": store.revocations.iter().map(|revocation| json!({
            "token_kind": revocation.token_kind,
            "token": revocation.token,
            "account": revocation.account,
            "client_id": revocation.client_id,
            "at": rfc3339(revocation.at),
        })).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpireRequest {
    #[serde(default)]
    account: Option<String>,
}

async fn expire_tokens(
    State(emulator): State<SharedEmulator>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: ExpireRequest =
        if body.iter().all(u8::is_ascii_whitespace) { ExpireRequest::default() } else { parse(&body)? };
    let expired_at = Timestamp::now() - SignedDuration::from_secs(1);
    let mut store = emulator.store();
    let mut expired = 0;
    for token in store
        .access_tokens
        .iter_mut()
        .filter(|token| request.account.as_ref().is_none_or(|account| &token.account == account))
    {
        if token.expires_at > expired_at {
            token.expires_at = expired_at;
            expired += 1;
        }
    }
    Ok(Json(json!({ "expired": expired })))
}

async fn writes(State(emulator): State<SharedEmulator>) -> Json<Value> {
    let store = emulator.store();
    Json(Value::Array(
        store
            .writes
            .iter()
            .map(|write| {
                json!({
                    "endpoint": write.endpoint.name(),
                    "calendar_id": write.calendar_id,
                    "event_id": write.event_id,
                    "send_updates": write.send_updates,
                    "send_notifications": write.send_notifications,
                    "conference_data_version": write.conference_data_version,
                    "at": rfc3339(write.at),
                })
            })
            .collect(),
    ))
}
