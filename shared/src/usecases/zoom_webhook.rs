//! Zoom's webhooks (`POST /webhooks/zoom`): the endpoint's URL validation, and the
//! `app_deauthorized` event, which Zoom requires an app to honour by erasing what it holds of
//! the user.
//!
//! The protocol, in order; nothing is read, stored or answered from the body before step 3:
//! 1. Zoom must be offered by this deployment, else 404 `unknown_provider`: without Zoom
//!    there is no secret token to verify with and no Zoom connection to erase, and a 404 makes
//!    Zoom's URL validation fail loudly in the Marketplace. Zoom offered but the stored secret
//!    lacking `zoom_webhook_secret_token` is a broken deployment: 503 (Zoom retries later).
//! 2. The body is at most 64 KiB (the handler, 413 `payload_too_large`).
//! 3. The signature is checked ([`crate::crypto::webhook_signature`]): `x-zm-request-timestamp`
//!    and `x-zm-signature` present once each, the timestamp within 5 minutes of our clock
//!    either way, the HMAC over the raw body matching in constant time. Else 401
//!    `invalid_signature`.
//! 4. Replay: the verified delivery is recorded by the SHA-256 of its signature, single-use,
//!    for [`DELIVERY_MEMORY`] (longer than the 5-minute window, so a recorded delivery is
//!    refused by one check or the other for as long as it could verify). A second delivery of
//!    the same signed request is 401 `replayed` and changes nothing.
//!
//!    Zoom's own retries are not replays. Zoom retries a delivery it did not see answered 2xx
//!    within 3 seconds three times, 5, 20 and 60 minutes apart (developers.zoom.us, "Resolving
//!    webhook delays"). Its documentation does not say outright that a retry carries a new
//!    timestamp, but it must: a retry 5 minutes or more later with the first timestamp would
//!    fail the 5-minute check Zoom itself tells receivers to make. So a retry is a new signed
//!    request, accepted, and what makes it harmless is step 6 being idempotent (a second
//!    erasure finds nothing and answers `erased: 0`).
//! 5. The body must be JSON `{"event", "payload"}`, else 400 `invalid_request` (the message
//!    never quotes the body).
//! 6. By event:
//!    - `endpoint.url_validation`: 200 `{"plainToken", "encryptedToken"}`, the token being hex
//!      HMAC-SHA256(secret token, plainToken).
//!    - `app_deauthorized`: an event naming another app's `client_id` is ignored (200). Else
//!      every Zoom connection of the payload's `user_id`, in any tenant, is erased without
//!      calling Zoom's revoke (Zoom has already ended the grant), except one the user made
//!      again since (see [`reconnected_since`]) or one whose stored organisation differs from
//!      the payload's `account_id` when both are known. 200 `{"erased": n}`.
//!    - Anything else: 200 `{"ignored": true}`, logged by event name.
//!
//! Logs: the count, and the Zoom user id only as a short SHA-256 prefix. The id is a stable
//! identifier of a person (personal data), and the logs outlive the erasure this event asks
//! for; the prefix still lets an operator match a log line to a user they already know.
//! Tokens, the secret and bodies are never logged.

use jiff::{SignedDuration, Timestamp};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::crypto::oauth_state::sha256_hex;
use crate::crypto::webhook_signature::{self, SignatureError};
use crate::domain::{Provider, UnknownProvider};
use crate::ports::{ConnectionRecord, ConnectionStatus, SecretsError, StoreError};

/// How long a verified delivery is remembered: past the 5-minute window both ways, with margin.
pub const DELIVERY_MEMORY: SignedDuration = SignedDuration::from_mins(15);
/// The longest `plainToken` answered (Zoom's are 22 characters).
const MAX_PLAIN_TOKEN_LEN: usize = 256;

/// One delivery as received: the single values of the two headers (`None` when missing or
/// repeated) and the raw body.
pub struct Delivery<'a> {
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// What the endpoint answers Zoom (always 200).
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum WebhookAnswer {
    UrlValidation {
        #[serde(rename = "plainToken")]
        plain_token: String,
        #[serde(rename = "encryptedToken")]
        encrypted_token: String,
    },
    Deauthorized {
        erased: usize,
    },
    Ignored {
        ignored: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    UnknownProvider(#[from] UnknownProvider),
    #[error("the webhook signature is missing, stale or wrong")]
    InvalidSignature(#[source] SignatureError),
    #[error("this webhook delivery was already received")]
    Replayed,
    #[error("the body is not a Zoom event: {0}")]
    InvalidBody(&'static str),
    #[error("the webhook secret token is unavailable")]
    Secrets(#[from] SecretsError),
    #[error("store failure")]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
struct Event {
    event: String,
    #[serde(default)]
    payload: serde_json::Value,
}

#[derive(Deserialize)]
struct UrlValidation {
    #[serde(rename = "plainToken")]
    plain_token: String,
}

#[derive(Deserialize)]
struct Deauthorization {
    account_id: Option<String>,
    user_id: String,
    client_id: String,
    deauthorization_time: Timestamp,
}

/// Handles one delivery (steps 1 and 3 to 6 of the module doc; the handler bounds the body).
#[tracing::instrument(skip_all, name = "zoom.webhook")]
pub async fn receive(app: &App, delivery: Delivery<'_>) -> Result<WebhookAnswer, WebhookError> {
    app.oauth(Provider::Zoom)?;
    let secrets = app.secrets.get().await?;
    let secret = secrets.webhook_secret_token(Provider::Zoom)?.expose_secret().as_bytes();
    let now = app.clock.now();
    webhook_signature::verify(secret, delivery.timestamp, delivery.signature, delivery.body, now).map_err(|why| {
        tracing::warn!(reason = %why, "zoom webhook refused: signature");
        crate::metrics::webhook_verification_failed(Provider::Zoom);
        WebhookError::InvalidSignature(why)
    })?;
    let signature = delivery.signature.unwrap_or_default();
    if !app.flows.record_webhook_delivery(&sha256_hex(signature), now + DELIVERY_MEMORY).await? {
        tracing::warn!("zoom webhook refused: replayed delivery");
        crate::metrics::webhook_verification_failed(Provider::Zoom);
        return Err(WebhookError::Replayed);
    }
    let event: Event = serde_json::from_slice(delivery.body)
        .map_err(|_| WebhookError::InvalidBody("expected {\"event\", \"payload\"}"))?;
    match event.event.as_str() {
        "endpoint.url_validation" => {
            let UrlValidation { plain_token } = serde_json::from_value(event.payload)
                .map_err(|_| WebhookError::InvalidBody("payload.plainToken must be a string"))?;
            if plain_token.is_empty() || plain_token.len() > MAX_PLAIN_TOKEN_LEN {
                return Err(WebhookError::InvalidBody("payload.plainToken has an unexpected length"));
            }
            tracing::info!("zoom webhook: url validation answered");
            let encrypted_token = webhook_signature::url_validation_token(secret, &plain_token);
            Ok(WebhookAnswer::UrlValidation { plain_token, encrypted_token })
        }
        "app_deauthorized" => {
            let payload: Deauthorization = serde_json::from_value(event.payload).map_err(|_| {
                WebhookError::InvalidBody("payload needs user_id, client_id and an RFC 3339 deauthorization_time")
            })?;
            deauthorize(app, payload).await
        }
        other => {
            let name: String = other.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
            tracing::info!(event = %name, "zoom webhook ignored: event not handled");
            Ok(WebhookAnswer::Ignored { ignored: true })
        }
    }
}

async fn deauthorize(app: &App, payload: Deauthorization) -> Result<WebhookAnswer, WebhookError> {
    let hashed_user = sha256_hex(&payload.user_id);
    let zoom_user = &hashed_user[..16];
    if app.settings.zoom_client_id.as_deref() != Some(payload.client_id.as_str()) {
        tracing::info!(zoom_user, "zoom webhook ignored: deauthorization of another app");
        return Ok(WebhookAnswer::Ignored { ignored: true });
    }
    let mut erased = 0;
    let mut kept = 0;
    for key in app.connections.connections_of_account(Provider::Zoom, &payload.user_id).await? {
        // The index is eventually consistent: read the record itself before deciding.
        let Some(record) = app.connections.get_connection(&key).await? else { continue };
        if record.account_id != payload.user_id
            || organisation_differs(&record, payload.account_id.as_deref())
            || reconnected_since(&record, payload.deauthorization_time)
        {
            kept += 1;
            continue;
        }
        if app.connections.delete_connection(&key).await? {
            erased += 1;
        }
    }
    tracing::info!(zoom_user, erased, kept, "zoom deauthorization: connections erased without revocation");
    Ok(WebhookAnswer::Deauthorized { erased })
}

fn organisation_differs(record: &ConnectionRecord, account_id: Option<&str>) -> bool {
    matches!((record.organisation_id.as_deref(), account_id), (Some(stored), Some(named)) if stored != named)
}

/// Whether the user connected again after deauthorizing, so the stored grant is a new one
/// this event does not end. A new connection has a later `connected_at`; a reconnect of the
/// same Zoom account keeps the first `connected_at` (the callback keeps it), so it shows as a
/// write after the deauthorization that left the connection `connected`. Nothing else can
/// leave it so: a refresh of the ended grant fails and marks it `needs_reconnect`.
fn reconnected_since(record: &ConnectionRecord, deauthorized_at: Timestamp) -> bool {
    record.connected_at > deauthorized_at
        || (record.status == ConnectionStatus::Connected && record.updated_at > deauthorized_at)
}
