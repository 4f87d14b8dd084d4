//! End-to-end: session meetings over HTTP through the local stack against the Google
//! emulator, whose conferenceData support is inspected directly.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Stack, start_with};

const CALENDAR: &str = "demo@example.com";

async fn connected() -> (Stack, String) {
    let s = start_with(&[("GOOGLE_RETRY_BUDGET_MS", "1500")]).await;
    let token = s.token("t1", "coach-1");
    s.connect(&token, CALENDAR).await;
    (s, token)
}

fn body() -> Value {
    json!({"start": "2030-01-02T15:00:00Z", "end": "2030-01-02T15:50:00Z", "time_zone": "Europe/Lisbon",
           "title": "Coaching", "participant_user_ids": ["client-1"], "attendee_emails": ["client@example.com"]})
}

/// Reads and deletes go with `token`; creates go as the tenant's service for the host the token
/// names (`host_user_id`), as an app's backend makes them.
async fn call(s: &Stack, method: Method, session: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let (token, body) = match (method.clone(), body) {
        (Method::POST, Some(mut body)) => {
            let (tenant, host) = claims(token);
            body["host_user_id"] = host.into();
            (s.service(&tenant), Some(body))
        }
        (_, body) => (token.to_owned(), body),
    };
    let response = s.api(method, &format!("/sessions/{session}/meeting"), &token, body).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// (tenant, user) of a dev token, read from its (unverified) payload.
fn claims(token: &str) -> (String, String) {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    (claims["tenant_id"].as_str().unwrap().to_owned(), claims["sub"].as_str().unwrap().to_owned())
}

async fn stored(s: &Stack) -> Vec<Value> {
    let url = format!("{}/_emulator/calendars/{CALENDAR}/events", s.emulator());
    let body: Value = s.http.get(url).send().await.unwrap().json().await.unwrap();
    body.as_array().cloned().or_else(|| body["items"].as_array().cloned()).unwrap_or_default()
}

#[tokio::test]
async fn a_meet_is_created_polled_and_returned_again() {
    let (s, token) = connected().await;
    let (status, view) = call(&s, Method::POST, "s-1", &token, Some(body())).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["provider"], "google_meet");
    let url = view["meeting_url"].as_str().unwrap();
    assert!(url.starts_with("https://meet.google.com/"), "{url}");
    let events = stored(&s).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["conferenceData"]["conferenceId"], view["conference_id"]);
    assert_eq!(events[0]["attendees"][0]["email"], "client@example.com");
    assert!(s.call_count("events_get").await >= 1, "the pending conference was polled");

    let (status, again) = call(&s, Method::POST, "s-1", &token, Some(body())).await;
    assert_eq!((status, &again), (StatusCode::OK, &view));
    assert_eq!(stored(&s).await.len(), 1);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_make_one_meet_at_the_emulator() {
    let (s, token) = connected().await;
    let calls = (0..5).map(|_| call(&s, Method::POST, "s-2", &token, Some(body())));
    let results = futures_util::future::join_all(calls).await;
    assert_eq!(results.iter().filter(|(status, _)| *status == StatusCode::CREATED).count(), 1, "{results:?}");
    assert!(results.iter().all(|(_, view)| view["meeting_url"] == results[0].1["meeting_url"]));
    assert_eq!(stored(&s).await.len(), 1);
    assert_eq!(s.call_count("events_insert").await, 1);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn participants_read_strangers_and_other_tenants_do_not() {
    let (s, token) = connected().await;
    call(&s, Method::POST, "s-3", &token, Some(body())).await;
    assert_eq!(call(&s, Method::GET, "s-3", &s.token("t1", "client-1"), None).await.0, StatusCode::OK);
    assert_eq!(call(&s, Method::GET, "s-3", &s.token("t1", "stranger"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&s, Method::GET, "s-3", &s.token("t2", "client-1"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&s, Method::DELETE, "s-3", &s.token("t1", "client-1"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&s, Method::DELETE, "s-3", &token, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(stored(&s).await[0]["status"], "cancelled");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn a_client_cannot_take_a_session_and_no_google_call_is_made() {
    let (s, host) = connected().await;
    let before = s.call_count("events_insert").await;
    let client = s.token("t1", "client-1");
    let mut zoom = body();
    zoom["existing_url"] = "https://zoom.us/j/5551234567".into();
    let response = s.api(Method::POST, "/sessions/s-7/meeting", &client, Some(zoom)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The real host's meeting is made by the service and the host reads it.
    assert_eq!(call(&s, Method::POST, "s-7", &host, Some(body())).await.0, StatusCode::CREATED);
    assert_eq!(call(&s, Method::GET, "s-7", &host, None).await.0, StatusCode::OK);
    assert_eq!(s.call_count("events_insert").await, before + 1, "only the service's create reached Google");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn a_failed_conference_is_502_and_links_can_be_attached_without_google() {
    let (s, token) = connected().await;
    s.control("faults", json!({"endpoint": "events_insert", "kind": "conference_failure"})).await;
    let (status, error) = call(&s, Method::POST, "s-4", &token, Some(body())).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::BAD_GATEWAY, Some("meet_creation_failed")));

    let unconnected = s.token("t1", "coach-2");
    let (status, error) = call(&s, Method::POST, "s-5", &unconnected, Some(body())).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_connected")));
    let mut zoom = body();
    zoom["existing_url"] = "https://zoom.us/j/5551234567".into();
    let (status, view) = call(&s, Method::POST, "s-5", &unconnected, Some(zoom)).await;
    assert_eq!((status, view["provider"].as_str()), (StatusCode::CREATED, Some("zoom")));
    let mut evil = body();
    evil["existing_url"] = "https://meet.google.com.evil.example/abc".into();
    let (status, error) = call(&s, Method::POST, "s-6", &unconnected, Some(evil)).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_meeting_url")));
    s.stack.shutdown().await;
}
