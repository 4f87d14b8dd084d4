//! sync-appointment behind its SQS queue, on fakes: batches from
//! `events/sync-appointment/sqs-batch.json` answered with exactly the transient failures, and
//! Google's permanent refusals recorded and acknowledged (over SQS and over HTTP).

mod support;

use std::time::Duration;

use calbridge::domain::{AppointmentId, ScopeSet, TenantId};
use calbridge::fakes::FakeConsent;
use calbridge::handlers::sync_appointment;
use calbridge::ports::{CalendarEntry, Clock as _, GoogleApiError, ProviderAccount, SyncRecord};
use jiff::SignedDuration;
use serde_json::{Value, json};
use support::*;
use tokio::time::Instant;

const COLLEAGUE: &str = "user-91bc";
const GOOD: &str = "059f36b4-87a3-44ab-83d2-661975830a7d";
const MALFORMED: &str = "2e1424d4-f796-459a-8184-9c92662be6da";
const BUSY_OWNER: &str = "7c5b0f2a-1d3e-4f60-9a8b-3c2d1e0f9a8b";

fn calendar(id: &str) -> CalendarEntry {
    CalendarEntry { id: id.into(), summary: id.into(), primary: true, access_role: "owner".into(), time_zone: None }
}

/// Dr Lee and a colleague, both connected.
async fn connected() -> Harness {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    h.calendar.set_calendars("1180000001", vec![calendar("dr.lee@example.com")]);
    let colleague = FakeConsent {
        account: ProviderAccount {
            id: "1180000002".into(),
            email: Some("sam@example.com".into()),
            organisation_id: None,
        },
        granted_scopes: ScopeSet::parse(ALL_SCOPES),
        issue_refresh_token: true,
    };
    h.connect_as(TENANT, COLLEAGUE, colleague).await;
    h.calendar.set_calendars("1180000002", vec![calendar("sam@example.com")]);
    h
}

fn batch() -> Value {
    event("sync-appointment/sqs-batch.json")
}

/// The batch reduced to the messages with these ids.
fn only(ids: &[&str]) -> Value {
    let mut batch = batch();
    batch["Records"].as_array_mut().unwrap().retain(|r| ids.contains(&r["messageId"].as_str().unwrap()));
    batch
}

/// An SQS message whose body is the EventBridge sample `name` with `patch` on its detail.
fn message(id: &str, name: &str, patch: Value) -> Value {
    let mut envelope = event(&format!("sync-appointment/{name}.json"));
    for (k, v) in patch.as_object().unwrap() {
        envelope["detail"][k] = v.clone();
    }
    let mut record = batch()["Records"][0].clone();
    record["messageId"] = id.into();
    record["body"] = envelope.to_string().into();
    record
}

async fn deliver(h: &Harness, batch: Value) -> Vec<String> {
    let answer = sync_appointment::handle_event(&h.app, batch, Instant::now() + Duration::from_secs(20))
        .await
        .expect("a batch is always answered, never failed as a whole");
    let failures = answer["batchItemFailures"].as_array().unwrap_or_else(|| panic!("not a batch response: {answer}"));
    let mut ids: Vec<String> = failures.iter().map(|f| f["itemIdentifier"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

async fn record(h: &Harness, appointment: &str) -> Option<SyncRecord> {
    let (tenant, appointment) = (TenantId::parse(TENANT).unwrap(), AppointmentId::parse(appointment).unwrap());
    h.app.syncs.get_sync(&tenant, &appointment).await.unwrap()
}

/// Spends the colleague's whole Google budget for the current minute.
async fn exhaust_colleague_budget(h: &Harness) {
    let limit = h.app.settings.google_calls_per_user_minute;
    h.app.budget.spend(&owner(TENANT, COLLEAGUE), limit, limit, h.clock.now()).await.unwrap();
}

#[tokio::test]
async fn a_batch_reports_exactly_its_transient_failure() {
    // Given a batch of a good change, a truncated body and a change for an owner whose Google
    // budget for the minute is spent,
    let h = connected().await;
    exhaust_colleague_budget(&h).await;

    // when it is delivered, then only the busy owner's message goes back to the queue,
    assert_eq!(deliver(&h, batch()).await, vec![BUSY_OWNER.to_owned()]);
    // the good one is at Google and recorded,
    assert_eq!(h.calendar.events("dr.lee@example.com").len(), 1);
    assert_eq!(record(&h, "a-123").await.unwrap().status.as_str(), "synced");
    // the busy owner's change is recorded as a failed attempt, nothing sent to Google,
    let busy = record(&h, "a-456").await.unwrap();
    assert_eq!((busy.status.as_str(), busy.attempts, busy.version), ("failed", 1, 0));
    assert!(busy.error.as_deref().unwrap().contains("budget"), "{:?}", busy.error);
    assert!(h.calendar.events("sam@example.com").is_empty());

    // and the redelivery in the next minute succeeds alone.
    h.clock.advance(SignedDuration::from_secs(61));
    assert!(deliver(&h, only(&[BUSY_OWNER])).await.is_empty());
    assert_eq!(record(&h, "a-456").await.unwrap().status.as_str(), "synced");
    assert_eq!(h.calendar.events("sam@example.com").len(), 1);
}

#[tokio::test]
async fn malformed_messages_are_acknowledged_and_recorded_when_their_appointment_is_known() {
    let h = connected().await;
    let invalid = message("m-invalid", "invalid", json!({}));
    let mut no_body = message("m-no-body", "create", json!({}));
    no_body.as_object_mut().unwrap().remove("body");
    let foreign = {
        let mut m = message("m-foreign", "create", json!({"appointment_id": "a-789"}));
        let mut envelope: Value = serde_json::from_str(m["body"].as_str().unwrap()).unwrap();
        envelope["source"] = "someone.else".into();
        m["body"] = envelope.to_string().into();
        m
    };
    let truncated = only(&[MALFORMED])["Records"][0].clone();
    let batch = json!({"Records": [truncated, invalid, no_body, foreign]});
    assert!(deliver(&h, batch).await.is_empty(), "poison is never redelivered");
    // `invalid.json` names its appointment: the app can see why its change went nowhere.
    let noted = record(&h, "a-123").await.unwrap();
    assert_eq!((noted.status.as_str(), noted.version), ("failed", 0));
    assert!(noted.error.as_deref().unwrap().starts_with("rejected: "), "{:?}", noted.error);
    assert!(h.calendar.events("dr.lee@example.com").is_empty());
    // A valid change afterwards applies normally.
    assert!(deliver(&h, only(&[GOOD])).await.is_empty());
    assert_eq!(record(&h, "a-123").await.unwrap().status.as_str(), "synced");
}

#[tokio::test]
async fn google_refusals_are_recorded_as_failed_and_acknowledged() {
    for (refusal, reason) in [
        (GoogleApiError::Rejected { status: 400, reason: "badRequest".into() }, "google_refused: 400 badRequest"),
        (GoogleApiError::Rejected { status: 403, reason: "forbidden".into() }, "google_refused: 403 forbidden"),
        (GoogleApiError::NotFound, "google_refused: 404 notFound"),
    ] {
        // Given Google refuses the insert,
        let h = connected().await;
        h.calendar.fail_next([refusal]);
        // when the change arrives, then it is acknowledged, not redelivered,
        assert!(deliver(&h, only(&[GOOD])).await.is_empty(), "{reason}");
        // and recorded as failed with a stable reason at its version.
        let failed = record(&h, "a-123").await.unwrap();
        assert_eq!(
            (failed.status.as_str(), failed.error.as_deref(), failed.version),
            ("failed", Some(reason), 1795255200000)
        );
        assert!(failed.lease_until.is_none());
        // A redelivery of the same version is stale: Google is not asked again.
        let calls = h.calendar.calls();
        assert!(deliver(&h, only(&[GOOD])).await.is_empty());
        assert_eq!(h.calendar.calls(), calls, "{reason}: the refused version is settled");
        // A corrected, higher version is applied.
        let fixed = json!({"Records": [message("m-fixed", "update", json!({}))]});
        assert!(deliver(&h, fixed).await.is_empty());
        assert_eq!(record(&h, "a-123").await.unwrap().status.as_str(), "synced", "{reason}");
    }
}

#[tokio::test]
async fn rate_limits_and_outages_go_back_to_the_queue() {
    let transients: [fn() -> GoogleApiError; 2] =
        [|| GoogleApiError::RateLimited { retry_after: None }, || GoogleApiError::Unavailable("503".into())];
    for transient in transients {
        let h = connected().await;
        h.calendar.fail_next((0..1000).map(|_| transient()));
        assert_eq!(deliver(&h, only(&[GOOD])).await, vec![GOOD.to_owned()]);
        let failed = record(&h, "a-123").await.unwrap();
        assert_eq!((failed.status.as_str(), failed.version, failed.attempts), ("failed", 0, 1));
    }
}

#[tokio::test]
async fn with_no_time_left_every_message_goes_back_untried() {
    let h = connected().await;
    let answer =
        sync_appointment::handle_event(&h.app, batch(), Instant::now() + Duration::from_secs(1)).await.unwrap();
    assert_eq!(answer["batchItemFailures"].as_array().unwrap().len(), 3, "{answer}");
    assert_eq!(h.calendar.calls(), 0);
    assert!(record(&h, "a-123").await.is_none());
}

#[tokio::test]
async fn a_direct_eventbridge_event_is_still_applied_during_the_migration() {
    let h = connected().await;
    let answer = sync_appointment::handle_event(
        &h.app,
        event("sync-appointment/create.json"),
        Instant::now() + Duration::from_secs(20),
    )
    .await
    .unwrap();
    assert_eq!(answer["outcome"], "synced");
}

#[tokio::test]
async fn over_http_a_refusal_is_a_422_sync_rejected_and_recorded() {
    let h = connected().await;
    h.calendar.fail_next([GoogleApiError::Rejected { status: 400, reason: "badRequest".into() }]);
    let response = sync_appointment::handle(&h.app, request(&event("sync-appointment/http-sync.json"))).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (422, "sync_rejected"));
    let message = body_json(&response)["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("google_refused: 400 badRequest"), "{message}");
    let status = sync_appointment::handle(&h.app, request(&event("sync-appointment/http-status.json"))).await;
    assert_eq!(body_json(&status)["status"], "failed");
    assert_eq!(body_json(&status)["error"], "google_refused: 400 badRequest");
}
