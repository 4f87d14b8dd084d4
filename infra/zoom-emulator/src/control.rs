//! Test-only control endpoints under `/_emulator`: seed, inject faults, inspect,
//! send webhooks.
//!
//! Contract: these bypass OAuth entirely and speak plain JSON; refusals are
//! `{"error": "<why>"}` with 400 or 404. They are never logged as calls and never
//! hit by faults. What they return is the emulator's own record (issued codes and
//! tokens, meetings, calls, webhooks), so tests can check calbridge against what
//! "Zoom" saw rather than against calbridge's own bookkeeping.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{ClientConfig, UserConfig};
use crate::faults::{Fault, FaultSpec};
use crate::random;
use crate::state::{SharedEmulator, Store};
use crate::webhooks::{self, SignedWebhook};

pub(crate) fn routes() -> Router<SharedEmulator> {
    Router::new()
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/clients", post(register_client))
        .route("/_emulator/users", post(add_user))
        .route("/_emulator/faults", get(list_faults).post(add_fault).delete(clear_faults))
        .route("/_emulator/calls", get(calls))
        .route("/_emulator/calls/reset", post(reset_calls))
        .route("/_emulator/tokens", get(tokens))
        .route("/_emulator/tokens/expire", post(expire_tokens))
        .route("/_emulator/meetings", get(meetings))
        .route("/_emulator/webhooks", get(sent_webhooks))
        .route("/_emulator/webhooks/deauthorize", post(deauthorize))
        .route("/_emulator/webhooks/url_validation", post(url_validation))
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
    #[error("no user {0}")]
    UnknownUser(String),
    #[error("no client {0}")]
    UnknownClient(String),
    #[error("several clients are registered; name one with client_id")]
    AmbiguousClient,
    #[error("target_url {0:?} is not an absolute http(s) URL")]
    TargetUrl(String),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match self {
            ControlError::UnknownUser(_) | ControlError::UnknownClient(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// The JSON body (an empty body reads as `{}`), with serde's message on failure.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ControlError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|error| ControlError::Body(error.to_string()))
}

fn rfc3339(timestamp: Timestamp) -> String {
    format!("{timestamp:.3}")
}

async fn reset(State(emulator): State<SharedEmulator>) -> Json<Value> {
    emulator.reset();
    Json(json!({ "reset": true }))
}

async fn register_client(
    State(emulator): State<SharedEmulator>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let client: ClientConfig = parse(&body)?;
    for uri in &client.redirect_uris {
        url::Url::parse(uri).map_err(|reason| ControlError::RedirectUri { uri: uri.clone(), reason })?;
    }
    emulator.store().upsert_client(client.clone())?;
    Ok(Json(json!(client)))
}

async fn add_user(
    State(emulator): State<SharedEmulator>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let user: UserConfig = parse(&body)?;
    let mut store = emulator.store();
    let added = store.add_user(user)?;
    Ok(Json(json!({
        "id": added.id,
        "email": added.email,
        "account_id": added.account_id,
        "first_name": added.first_name,
        "last_name": added.last_name,
        "timezone": added.timezone,
        "type": added.r#type,
    })))
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
    let store = emulator.store();
    Json(json!({
        "calls": store.call_log.iter().map(|call| json!({
            "method": call.method,
            "path": call.path,
            "at": rfc3339(call.at),
        })).collect::<Vec<_>>(),
        "counts": store.call_counts,
    }))
}

async fn reset_calls(State(emulator): State<SharedEmulator>) -> Json<Value> {
    let mut store = emulator.store();
    store.call_log.clear();
    store.call_counts.clear();
    Json(json!({}))
}

async fn tokens(State(emulator): State<SharedEmulator>) -> Json<Value> {
    Json(tokens_report(&emulator.store()))
}

fn tokens_report(store: &Store) -> Value {
    let now = Timestamp::now();
    json!({
        "codes": store.codes.iter().map(|code| json!({
            "code": code.code,
            "user": code.user,
            "client_id": code.client_id,
            "used": code.used,
            "code_verifier": code.redeemed_with_verifier,
        })).collect::<Vec<_>>(),
        "access_tokens": store.access_tokens.iter().map(|token| json!({
            "token": token.token,
            "user": token.user,
            "client_id": token.client_id,
            "scopes": token.scopes,
            "expires_at": rfc3339(token.expires_at),
            "expired": now >= token.expires_at,
            "revoked": token.revoked || store.grants[token.grant].revoked,
        })).collect::<Vec<_>>(),
        "refresh_tokens": store.refresh_tokens.iter().map(|token| json!({
            "token": token.token,
            "user": token.user,
            "client_id": token.client_id,
            "revoked": token.revoked || store.grants[token.grant].revoked,
            "rotated_to": token.rotated_to,
        })).collect::<Vec<_>>(),
        "zaks": store.zaks.iter().map(|zak| json!({
            "zak": zak.zak,
            "meeting_id": zak.meeting_id,
            "user": zak.user,
            "expires_at": rfc3339(zak.expires_at),
            "expired": now >= zak.expires_at,
        })).collect::<Vec<_>>(),
        "revocations": store.revocations.iter().map(|revocation| json!({
            "cause": revocation.cause,
            "user": revocation.user,
            "client_id": revocation.client_id,
            "at": rfc3339(revocation.at),
        })).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpireRequest {
    /// Only this user's (email); all users when absent.
    #[serde(default)]
    user: Option<String>,
    /// `access` (default), `zak` (start URLs) or `all`.
    #[serde(default)]
    kind: Option<String>,
}

async fn expire_tokens(
    State(emulator): State<SharedEmulator>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: ExpireRequest = parse(&body)?;
    let (access, zaks) = match request.kind.as_deref() {
        None | Some("access") => (true, false),
        Some("zak") => (false, true),
        Some("all") => (true, true),
        Some(other) => return Err(ControlError::Body(format!("kind {other:?}: expected access, zak or all"))),
    };
    let expired_at = Timestamp::now() - SignedDuration::from_secs(1);
    let wanted = |user: &str| request.user.as_deref().is_none_or(|wanted| wanted == user);
    let mut store = emulator.store();
    let mut expired = 0;
    if access {
        for token in store.access_tokens.iter_mut().filter(|token| wanted(&token.user)) {
            if token.expires_at > expired_at {
                token.expires_at = expired_at;
                expired += 1;
            }
        }
    }
    if zaks {
        for zak in store.zaks.iter_mut().filter(|zak| wanted(&zak.user)) {
            if zak.expires_at > expired_at {
                zak.expires_at = expired_at;
                expired += 1;
            }
        }
    }
    Ok(Json(json!({ "expired": expired })))
}

async fn meetings(State(emulator): State<SharedEmulator>) -> Json<Value> {
    let store = emulator.store();
    Json(Value::Array(
        store
            .meetings
            .iter()
            .map(|meeting| {
                json!({
                    "id": meeting.id,
                    "host_email": meeting.host_email,
                    "deleted": meeting.deleted,
                    "meeting": meeting.resource,
                })
            })
            .collect(),
    ))
}

async fn sent_webhooks(State(emulator): State<SharedEmulator>) -> Json<Value> {
    Json(Value::Array(emulator.store().webhooks.clone()))
}

/// The app a webhook is for: the named one, or the only one registered.
fn client_secret(store: &Store, client_id: Option<&str>) -> Result<(String, String), ControlError> {
    let client = match client_id {
        Some(id) => store.clients.get(id).ok_or_else(|| ControlError::UnknownClient(id.to_owned()))?,
        None if store.clients.len() == 1 => store.clients.values().next().expect("one client"),
        None => return Err(ControlError::AmbiguousClient),
    };
    Ok((client.client_id.clone(), client.webhook_secret_token.clone()))
}

fn check_target(target_url: &Option<String>) -> Result<(), ControlError> {
    match target_url {
        None => Ok(()),
        Some(raw) => match url::Url::parse(raw) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
            _ => Err(ControlError::TargetUrl(raw.clone())),
        },
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeauthorizeRequest {
    /// Email or Zoom user id.
    user: String,
    #[serde(default)]
    client_id: Option<String>,
    /// Where to POST the signed event; without it the request is only returned.
    #[serde(default)]
    target_url: Option<String>,
    #[serde(default)]
    user_data_retention: Option<bool>,
}

/// The user uninstalls the app: its grant is revoked at once (every token
/// dies), then the signed `app_deauthorized` event is built and optionally sent.
async fn deauthorize(
    State(emulator): State<SharedEmulator>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: DeauthorizeRequest = parse(&body)?;
    check_target(&request.target_url)?;
    let (webhook, revoked) = {
        let mut store = emulator.store();
        let (client_id, secret) = client_secret(&store, request.client_id.as_deref())?;
        let user = store
            .users
            .values()
            .find(|user| user.email == request.user || user.id == request.user)
            .ok_or_else(|| ControlError::UnknownUser(request.user.clone()))?;
        let (email, user_id, account_id) = (user.email.clone(), user.id.clone(), user.account_id.clone());
        let revoked = match store.active_grant(&email, &client_id) {
            Some(grant) => {
                store.revoke_grant(grant, "deauthorize");
                true
            }
            None => false,
        };
        let now = Timestamp::now();
        let payload = json!({
            "account_id": account_id,
            "user_id": user_id,
            "signature": random::deauthorization_signature(),
            "deauthorization_time": rfc3339(now),
            "client_id": client_id,
            "user_data_retention": request.user_data_retention.unwrap_or(false).to_string(),
        });
        (SignedWebhook::new(&secret, "app_deauthorized", payload, now), revoked)
    };
    let delivery = match &request.target_url {
        Some(target) => Some(webhooks::deliver(target, &webhook).await),
        None => None,
    };
    let record = json!({
        "event": "app_deauthorized",
        "revoked_grant": revoked,
        "request": webhook.describe(request.target_url.as_deref()),
        "delivery": delivery.as_ref().map(webhooks::Delivery::describe),
    });
    emulator.store().webhooks.push(record.clone());
    Ok(Json(record))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UrlValidationRequest {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    target_url: Option<String>,
}

/// Zoom's endpoint check: sends `endpoint.url_validation` and verifies the answer.
async fn url_validation(
    State(emulator): State<SharedEmulator>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: UrlValidationRequest = parse(&body)?;
    check_target(&request.target_url)?;
    let (_, secret) = client_secret(&emulator.store(), request.client_id.as_deref())?;
    let plain_token = random::plain_token();
    let expected = webhooks::encrypted_token(&secret, &plain_token);
    let webhook =
        SignedWebhook::new(&secret, "endpoint.url_validation", json!({"plainToken": plain_token}), Timestamp::now());
    let (delivery, problems) = match &request.target_url {
        Some(target) => {
            let delivery = webhooks::deliver(target, &webhook).await;
            let problems = webhooks::check_url_validation_answer(&delivery, &plain_token, &expected);
            (Some(delivery), Some(problems))
        }
        None => (None, None),
    };
    let record = json!({
        "event": "endpoint.url_validation",
        "request": webhook.describe(request.target_url.as_deref()),
        "expected_answer": {"plainToken": plain_token, "encryptedToken": expected},
        "delivery": delivery.as_ref().map(webhooks::Delivery::describe),
        "valid": problems.as_ref().map(Vec::is_empty),
        "problems": problems,
    });
    emulator.store().webhooks.push(record.clone());
    Ok(Json(record))
}
