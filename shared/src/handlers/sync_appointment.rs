//! `sync-appointment`: EventBridge `AppointmentChanged` events, plus, for the app's own use,
//! `POST /appointments/{id}/sync` (apply a change now and answer the outcome) and
//! `GET /appointments/{id}/sync` (the stored sync record), both for the app's service only and
//! within its tenant: a user could otherwise move or delete a colleague's events.
//!
//! EventBridge invocations answer `Ok` for everything that must not be retried (applied,
//! stale, not connected, needs reconnect, poison input: logged and rejected) and `Err` only
//! for transient failures, so Lambda's async retries and the DLQ see exactly those.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::app::App;
use crate::domain::AppointmentId;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::sync::{self, AppointmentChange, DETAIL_TYPE, SyncError, SyncView, ValidChange};

pub const SYNC: Route = Route::new(Method::POST, "/appointments/{id}/sync");
pub const RECORD: Route = Route::new(Method::GET, "/appointments/{id}/sync");
pub const ROUTES: &[Route] = &[SYNC, RECORD];
/// How long a synchronous HTTP sync may take (under API Gateway's 30 s).
const HTTP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// An EventBridge event, as Lambda delivers it.
#[derive(Debug, Deserialize)]
struct EventBridgeEvent {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: Value,
}

/// Handles one EventBridge event; `deadline` is when the invocation must have answered.
pub async fn handle_event(app: &App, event: Value, deadline: Instant) -> Result<Value, SyncError> {
    let event: EventBridgeEvent = match serde_json::from_value(event) {
        Ok(event) => event,
        Err(e) => return Ok(rejected(&format!("not an EventBridge event: {e}"))),
    };
    if event.source != app.settings.sync.event_source || event.detail_type != DETAIL_TYPE {
        return Ok(rejected(&format!("unexpected source/detail-type {:?}/{:?}", event.source, event.detail_type)));
    }
    let change: AppointmentChange = match serde_json::from_value(event.detail) {
        Ok(change) => change,
        Err(e) => return Ok(rejected(&format!("detail does not match the AppointmentChanged schema: {e}"))),
    };
    let (tenant, appointment) =
        (change.tenant_id.clone().unwrap_or_default(), change.appointment_id.clone().unwrap_or_default());
    let change = match ValidChange::parse(change, &tenant, &appointment, app.clock.now()) {
        Ok(change) => change,
        Err(SyncError::Invalid(why)) => return Ok(rejected(&why.message)),
        Err(other) => return Err(other),
    };
    let (outcome, record) = sync::apply(app, &change, deadline).await?;
    Ok(json!({ "outcome": outcome, "record": SyncView::from(&record) }))
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
    let (outcome, record) = sync::apply(app, &change, Instant::now() + HTTP_DEADLINE).await?;
    Ok(edge::json(StatusCode::OK, &json!({ "outcome": outcome, "record": SyncView::from(&record) })))
}
