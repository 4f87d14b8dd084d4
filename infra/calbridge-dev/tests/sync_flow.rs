//! End-to-end: appointment events through `POST /_local/events` and the HTTP sync routes of
//! the local stack, against the Google emulator, whose event store is inspected directly.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Stack, start_with};

const CALENDAR: &str = "demo@example.com";

async fn connected() -> (Stack, String) {
    let s = start_with(&[("GOOGLE_RETRY_BUDGET_MS", "1500")]).await;
    let token = s.token("clinic-42", "user-7f3a");
    s.connect(&token, CALENDAR).await;
    (s, token)
}

fn change(appointment: &str, action: &str, version: u64, hour: u32) -> Value {
    json!({
        "version": "0", "id": "e1", "detail-type": "AppointmentChanged", "source": "app.appointments",
        "account": "123456789012", "time": "2026-11-21T10:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": {
            "tenant_id": "clinic-42", "appointment_id": appointment, "user_id": "user-7f3a",
            "action": action, "version": version,
            "start": format!("2030-01-02T{hour:02}:00:00Z"), "end": format!("2030-01-02T{hour:02}:50:00Z"),
            "time_zone": "America/Chicago", "title": "Therapy: J. Doe"
        }
    })
}

async fn deliver(s: &Stack, event: &Value) -> (StatusCode, Value) {
    let response = s.http.post(format!("{}/_local/events", s.base())).json(event).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// What the emulator stores on the calendar, cancelled events included.
async fn stored(s: &Stack) -> Vec<Value> {
    let url = format!("{}/_emulator/calendars/{CALENDAR}/events", s.emulator());
    let body: Value = s.http.get(url).send().await.unwrap().json().await.unwrap();
    body.as_array().cloned().or_else(|| body["items"].as_array().cloned()).unwrap_or_default()
}

async fn live(s: &Stack) -> Vec<Value> {
    stored(s).await.into_iter().filter(|e| e["status"] != "cancelled").collect()
}

#[tokio::test]
async fn a_create_lands_once_privately_at_google() {
    let (s, _) = connected().await;
    let (status, outcome) = deliver(&s, &change("a-1", "create", 1, 15)).await;
    assert_eq!((status, outcome["outcome"].as_str()), (StatusCode::OK, Some("synced")), "{outcome}");
    let events = stored(&s).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["id"], outcome["record"]["google_event_id"]);
    assert_eq!(event["summary"], "Appointment", "no client data in the title by default");
    assert!(event.get("description").is_none() && event.get("attendees").is_none());
    assert_eq!(event["extendedProperties"]["private"]["calbridge_appointment"], "a-1");
    assert_eq!(event["start"]["timeZone"], "America/Chicago");
    assert!(!event.to_string().contains("J. Doe"));
    s.stack.shutdown().await;
}

#[tokio::test]
async fn a_lost_insert_response_still_yields_one_event() {
    let (s, _) = connected().await;
    s.control("faults", json!({"endpoint": "events_insert", "kind": "apply_then_drop"})).await;
    let (status, outcome) = deliver(&s, &change("a-2", "create", 1, 15)).await;
    assert_eq!((status, outcome["outcome"].as_str()), (StatusCode::OK, Some("synced")), "{outcome}");
    assert_eq!(stored(&s).await.len(), 1, "the retry patched Google's copy instead of adding one");
    assert!(s.call_count("events_insert").await >= 2, "the insert was retried");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn three_concurrent_deliveries_make_one_event() {
    let (s, _) = connected().await;
    let event = change("a-3", "create", 1, 15);
    let results = futures_util::future::join_all((0..3).map(|_| deliver(&s, &event))).await;
    assert!(results.iter().all(|(status, _)| *status == StatusCode::OK), "{results:?}");
    assert_eq!(stored(&s).await.len(), 1);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn out_of_order_and_tombstones() {
    let (s, _) = connected().await;
    for (version, hour) in [(3, 18), (1, 15), (2, 16)] {
        let (status, _) = deliver(&s, &change("a-4", "update", version, hour)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let events = live(&s).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["start"]["dateTime"].as_str().unwrap()[..16], *"2030-01-02T18:00", "Google shows v3");

    let (_, deleted) = deliver(&s, &change("a-5", "delete", 4, 15)).await;
    assert_eq!(deleted["outcome"], "deleted");
    let (_, late) = deliver(&s, &change("a-5", "create", 1, 15)).await;
    assert_eq!(late["outcome"], "ignored_stale");
    let a5: Vec<Value> = live(&s)
        .await
        .into_iter()
        .filter(|e| e["extendedProperties"]["private"]["calbridge_appointment"] == "a-5")
        .collect();
    assert!(a5.is_empty(), "a late create does not revive a deleted appointment");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn poison_is_rejected_and_transient_failures_are_500_for_lambda_to_retry() {
    let (s, token) = connected().await;
    let mut poison = change("a-6", "create", 1, 15);
    poison["detail"]["action"] = "reschedule".into();
    let (status, body) = deliver(&s, &poison).await;
    assert_eq!((status, body["outcome"].as_str()), (StatusCode::OK, Some("rejected")));

    s.control("faults", json!({"endpoint": "events_insert", "status": 503, "times": 1000})).await;
    let (status, body) = deliver(&s, &change("a-7", "create", 1, 15)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let _ = token;
    let record = s.api(Method::GET, "/appointments/a-7/sync", &s.service("clinic-42"), None).await;
    let record: Value = record.json().await.unwrap();
    assert_eq!((record["status"].as_str(), record["attempts"].as_u64()), (Some("failed"), Some(1)));
    s.stack.shutdown().await;
}

#[tokio::test]
async fn the_http_routes_sync_now_and_report_to_the_same_tenants_service_only() {
    let (s, user) = connected().await;
    let service = s.service("clinic-42");
    let body = change("a-8", "create", 1, 15)["detail"].clone();
    let response = s.api(Method::POST, "/appointments/a-8/sync", &service, Some(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = s.api(Method::GET, "/appointments/a-8/sync", &service, None).await;
    let record: Value = response.json().await.unwrap();
    assert_eq!(record["status"], "synced");
    let outsider = s.service("other-clinic");
    assert_eq!(s.api(Method::GET, "/appointments/a-8/sync", &outsider, None).await.status(), StatusCode::NOT_FOUND);
    // A user, even the calendar's owner, may neither read nor change sync records.
    assert_eq!(s.api(Method::GET, "/appointments/a-8/sync", &user, None).await.status(), StatusCode::FORBIDDEN);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn changes_made_while_the_user_was_not_connected_are_applied_when_they_connect() {
    let s = start_with(&[("GOOGLE_RETRY_BUDGET_MS", "1500")]).await;
    let token = s.token("clinic-42", "user-7f3a");
    let service = s.service("clinic-42");
    let record = |appointment: &'static str| {
        let (s, service) = (&s, service.clone());
        async move {
            let path = format!("/appointments/{appointment}/sync");
            s.api(Method::GET, &path, &service, None).await.json::<Value>().await.unwrap()
        }
    };
    // Given three changes for a user who has not connected Google yet: a create, a create
    // moved by a later version, and a create that is then cancelled,
    for (event, expected) in [
        (change("a-p1", "create", 1, 9), "skipped_not_connected"),
        (change("a-p2", "create", 1, 10), "skipped_not_connected"),
        (change("a-p2", "update", 2, 14), "skipped_not_connected"),
        (change("a-p3", "create", 1, 11), "skipped_not_connected"),
        (change("a-p3", "delete", 2, 11), "deleted"),
    ] {
        let (status, outcome) = deliver(&s, &event).await;
        assert_eq!((status, outcome["outcome"].as_str()), (StatusCode::OK, Some(expected)), "{outcome}");
    }
    assert_eq!(record("a-p1").await["status"], "skipped_not_connected");

    // when the user connects,
    s.connect(&token, CALENDAR).await;

    // then the kept changes are at Google, each at its latest version, and the cancelled one
    // is not; the records say synced.
    let events = live(&s).await;
    let mut starts: Vec<&str> = events.iter().filter_map(|e| e["start"]["dateTime"].as_str()).collect();
    starts.sort_unstable();
    assert_eq!(starts, vec!["2030-01-02T09:00:00Z", "2030-01-02T14:00:00Z"], "{events:?}");
    assert!(events.iter().all(|e| e["summary"] == "Appointment"), "kept changes carry no title: {events:?}");
    for appointment in ["a-p1", "a-p2"] {
        let synced = record(appointment).await;
        assert_eq!(synced["status"], "synced", "{synced}");
    }
    assert_eq!(record("a-p2").await["version"], 2);
    assert_eq!(record("a-p3").await["status"], "deleted");

    // Applied once: a second connect (a reconnect) writes nothing more, and a redelivery of an
    // applied version is stale.
    let inserts = s.call_count("events_insert").await;
    assert_eq!(inserts, 2, "one insert per kept create");
    s.connect(&token, CALENDAR).await;
    assert_eq!(s.call_count("events_insert").await, inserts, "nothing is applied twice");
    let (_, outcome) = deliver(&s, &change("a-p1", "create", 1, 9)).await;
    assert_eq!(outcome["outcome"], "ignored_stale", "{outcome}");
    assert_eq!(live(&s).await.len(), 2);
    s.stack.shutdown().await;
}
