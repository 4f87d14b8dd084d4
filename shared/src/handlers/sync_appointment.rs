//! `sync-appointment`: `AppointmentChanged` events, as SQS batches (EventBridge rule -> queue
//! -> event source mapping) or, during the migration from direct delivery, as one EventBridge
//! event; plus, for the app's own use, `POST /appointments/{id}/sync` (apply a change now and
//! answer the outcome) and `GET /appointments/{id}/sync` (the stored sync record), both for
//! the app's service only and within its tenant: a user could otherwise move or delete a
//! colleague's events.
//!
//! Contract for an SQS batch (`Records`, each `body` an EventBridge envelope): the answer is
//! always a batch response, `{"batchItemFailures":[{"itemIdentifier": <messageId>}]}`, listing
//! exactly the messages that failed transiently (Google 5xx/429 after retries, the store
//! unavailable, the user's Google call budget spent, no time left to try), so the event
//! source mapping (`ReportBatchItemFailures`) returns only those to the queue and deletes the
//! rest. Everything that must not be retried is acknowledged: applied, stale, not connected,
//! needs reconnect, refused by Google for good (recorded `failed`), and malformed bodies
//! (logged without the body, recorded on the appointment when its ids can be read). The
//! invocation itself never fails for a well-formed batch: a function error would redeliver
//! the messages that succeeded too.
//!
//! Records run [`RECORD_CONCURRENCY`] at a time: different users' changes overlap their Google
//! round trips, while the queue's `MaximumConcurrency` times this bound caps the calls in
//! flight for the whole stack (5 x 4 = 20, well under Google's 10,000/min per project at
//! ~200 ms a call). Two records for one appointment in the same batch are safe: the lease
//! serialises them and the version decides.
//!
//! A direct EventBridge invocation answers `Ok` for everything that must not be retried and
//! `Err` only for transient failures, so Lambda's async retries and the rule's DLQ see exactly
//! those.

use futures_util::StreamExt as _;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::app::App;
use crate::domain::AppointmentId;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::deadline;
use crate::usecases::sync::{self, AppointmentChange, DETAIL_TYPE, Outcome, SyncError, SyncView, ValidChange};

pub const SYNC: Route = Route::new(Method::POST, "/appointments/{id}/sync");
pub const RECORD: Route = Route::new(Method::GET, "/appointments/{id}/sync");
pub const ROUTES: &[Route] = &[SYNC, RECORD];
/// How long a synchronous HTTP sync may take outside a deadline scope (tests calling the handler
/// directly); in Lambda and the local stack it is the request's answer-by time.
const HTTP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Records of one SQS batch applied at the same time.
pub const RECORD_CONCURRENCY: usize = 4;
/// A record is not started with less time than this left: it could only fail half-way, so it
/// is reported for redelivery untouched.
const RECORD_MIN_TIME: std::time::Duration = std::time::Duration::from_secs(3);

/// An SQS batch as the event source mapping delivers it: the fields of
/// `aws_lambda_events::event::sqs::SqsEvent` this function reads. (That crate's `sqs` feature
/// pulls serde_with, schemars and a second jiff into every binary for three strings.)
#[derive(Debug, Deserialize)]
struct SqsEvent {
    #[serde(rename = "Records")]
    records: Vec<SqsMessage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SqsMessage {
    message_id: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    attributes: std::collections::HashMap<String, String>,
}

/// `aws_lambda_events::event::sqs::SqsBatchResponse`, as Lambda reads it.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct SqsBatchResponse {
    batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchItemFailure {
    item_identifier: String,
}

/// Whether a payload is an SQS batch (rather than one EventBridge event).
fn is_sqs_batch(event: &Value) -> bool {
    event
        .get("Records")
        .and_then(Value::as_array)
        .is_some_and(|records| records.iter().all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")))
}

/// An EventBridge event, as Lambda delivers it.
#[derive(Debug, Deserialize)]
struct EventBridgeEvent {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: Value,
}

/// Handles an SQS batch or one EventBridge event; `deadline` is when the invocation must have
/// answered.
pub async fn handle_event(app: &App, event: Value, deadline: Instant) -> Result<Value, SyncError> {
    if !is_sqs_batch(&event) {
        return handle_eventbridge(app, event, deadline).await;
    }
    let batch: SqsEvent = serde_json::from_value(event)
        .map_err(|e| SyncError::Transient(format!("an SQS batch without message ids: {e}").into()))?;
    let failures: Vec<BatchItemFailure> = futures_util::stream::iter(batch.records)
        .map(|message| async move {
            let failed = !handle_message(app, &message, deadline).await;
            failed.then_some(BatchItemFailure { item_identifier: message.message_id })
        })
        .buffer_unordered(RECORD_CONCURRENCY)
        .filter_map(std::future::ready)
        .collect()
        .await;
    if !failures.is_empty() {
        tracing::warn!(failed = failures.len(), "sync batch: messages returned to the queue");
    }
    let response = SqsBatchResponse { batch_item_failures: failures };
    Ok(serde_json::to_value(response).expect("a batch response serialises"))
}

/// One SQS message; `true` when it is done with (applied, or never retryable).
#[tracing::instrument(skip_all, fields(message_id = %message.message_id, receive_count = message.attributes.get("ApproximateReceiveCount").map_or("", String::as_str)))]
async fn handle_message(app: &App, message: &SqsMessage, deadline: Instant) -> bool {
    if deadline.saturating_duration_since(Instant::now()) < RECORD_MIN_TIME {
        tracing::warn!("no time left in this invocation; returned to the queue untried");
        return false;
    }
    // The body is the app's data: never logged, only the parser's verdict is.
    let event: Value = match message.body.as_deref().map(serde_json::from_str) {
        Some(Ok(event)) => event,
        Some(Err(e)) => {
            rejected(&format!("the message body is not JSON (line {}, column {})", e.line(), e.column()));
            return true;
        }
        None => {
            rejected("the message has no body");
            return true;
        }
    };
    match handle_eventbridge(app, event, deadline).await {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(error = %crate::errors::ErrorChain(&error), "sync failed transiently; the queue will redeliver it");
            false
        }
    }
}

/// Handles one EventBridge event (directly delivered, or an SQS message's body).
async fn handle_eventbridge(app: &App, event: Value, deadline: Instant) -> Result<Value, SyncError> {
    // The appointment's ids, when readable, to record a rejection on it.
    let ids = || {
        let detail = event.get("detail")?;
        let field = |name: &str| detail.get(name).and_then(Value::as_str).map(str::to_owned);
        Some((field("tenant_id")?, field("appointment_id")?))
    };
    let ids = ids();
    let event: EventBridgeEvent = match serde_json::from_value(event) {
        Ok(event) => event,
        Err(e) => return Ok(rejected(&format!("not an EventBridge event: {e}"))),
    };
    if event.source != app.settings.sync.event_source || event.detail_type != DETAIL_TYPE {
        return Ok(rejected(&format!("unexpected source/detail-type {:?}/{:?}", event.source, event.detail_type)));
    }
    let change: AppointmentChange = match serde_json::from_value(event.detail) {
        Ok(change) => change,
        Err(e) => {
            let why = format!("detail does not match the AppointmentChanged schema: {e}");
            record_rejection(app, ids.as_ref(), &why).await;
            return Ok(rejected(&why));
        }
    };
    let (tenant, appointment) =
        (change.tenant_id.clone().unwrap_or_default(), change.appointment_id.clone().unwrap_or_default());
    let change = match ValidChange::parse(change, &tenant, &appointment, app.clock.now()) {
        Ok(change) => change,
        Err(SyncError::Invalid(why)) => {
            record_rejection(app, ids.as_ref(), &why.message).await;
            return Ok(rejected(&why.message));
        }
        Err(other) => return Err(other),
    };
    let (outcome, record) = sync::apply(app, &change, deadline).await?;
    Ok(json!({ "outcome": outcome, "record": SyncView::from(&record) }))
}

/// Notes a rejected change on its appointment's sync record, when the ids are readable;
/// best effort (the rejection stands either way).
async fn record_rejection(app: &App, ids: Option<&(String, String)>, why: &str) {
    let Some((tenant, appointment)) = ids else { return };
    let (Ok(tenant), Ok(appointment)) = (crate::domain::TenantId::parse(tenant), AppointmentId::parse(appointment))
    else {
        return;
    };
    if let Err(e) = sync::record_rejection(app, &tenant, &appointment, why).await {
        tracing::warn!(error = %crate::errors::ErrorChain(&e), "could not record the rejection");
    }
}

/// Poison input: logged, answered as handled so nothing retries it.
fn rejected(why: &str) -> Value {
    tracing::error!(reason = why, "appointment event rejected");
    json!({ "outcome": "rejected", "reason": why })
}

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let (route, params) = edge::route(request, ROUTES)?;
    let caller = super::caller(app, request)?;
    let tenant = caller.require_service("only the app's service may sync appointments")?.clone();
    let appointment = AppointmentId::parse(params.get("id"))
        .map_err(|e| ApiError::bad_request("invalid_request", format!("appointment id: {e}")))?;
    if *route == RECORD {
        let record = sync::record(app, &tenant, &appointment).await?;
        return match record {
            Some(record) => Ok(edge::json(StatusCode::OK, &SyncView::from(&record))),
            None => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no sync record for this appointment")),
        };
    }
    let change: Option<AppointmentChange> = edge::json_body(request)?;
    let change = change.ok_or_else(|| ApiError::bad_request("invalid_request", "a JSON body is required"))?;
    if change.tenant_id.as_deref().is_some_and(|t| t != tenant.as_str()) {
        // Indistinguishable from any other bad input: no hint about other tenants.
        return Err(ApiError::bad_request("invalid_request", "tenant_id must be the caller's tenant"));
    }
    if change.appointment_id.as_deref().is_some_and(|a| a != appointment.as_str()) {
        return Err(ApiError::bad_request("invalid_request", "appointment_id must match the path"));
    }
    let change = ValidChange::parse(change, tenant.as_str(), appointment.as_str(), app.clock.now())?;
    let (outcome, record) =
        sync::apply(app, &change, deadline::answer_by().unwrap_or_else(|| Instant::now() + HTTP_DEADLINE)).await?;
    if outcome == Outcome::FailedRejected {
        // Recorded and final: a retry of this body would be answered the same.
        let reason = record.error.as_deref().unwrap_or("google_refused");
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "sync_rejected",
            format!("Google refused this change ({reason}); it is recorded as failed, send a corrected version"),
        ));
    }
    Ok(edge::json(StatusCode::OK, &json!({ "outcome": outcome, "record": SyncView::from(&record) })))
}
