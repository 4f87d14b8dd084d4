//! End-to-end: calendars, selection and availability over HTTP through the local stack
//! against the Google emulator, including its faults and call counters.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Stack, start_with};

const SAM: &str = "sam@example.com";
const TEAM: &str = "team@group.calendar.google.com";

/// A stack where u1 connected sam@example.com, who has a primary calendar, a writable team
/// calendar and free/busy access to demo's calendar.
async fn connected() -> (Stack, String) {
    let s = start_with(&[("GOOGLE_RETRY_BUDGET_MS", "1500")]).await;
    s.control(
        "accounts",
        json!({"email": SAM, "sub": "100000000000000000003", "name": "Sam", "calendars": [
            {"id": TEAM, "summary": "Team", "timeZone": "Europe/Berlin", "accessRole": "writer"},
            {"id": "demo@example.com", "accessRole": "freeBusyReader"}]}),
    )
    .await;
    let token = s.token("t1", "u1");
    let done = s.connect(&token, SAM).await;
    assert_eq!(support::outcome(&done)["status"], "connected");
    (s, token)
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn week() -> Value {
    json!({"time_min": "2030-01-01T00:00:00Z", "time_max": "2030-01-08T00:00:00Z"})
}

#[tokio::test]
async fn calendars_are_listed_and_only_a_writable_one_can_be_selected() {
    let (s, token) = connected().await;
    let (status, body) = json_of(s.api(Method::GET, "/calendars", &token, None).await).await;
    assert_eq!(status, StatusCode::OK);
    let calendars = body["calendars"].as_array().unwrap();
    let ids: Vec<&str> = calendars.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&SAM) && ids.contains(&TEAM) && ids.contains(&"demo@example.com"), "{ids:?}");
    let selected: Vec<&str> =
        calendars.iter().filter(|c| c["selected"] == true).map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(selected, [SAM], "the primary calendar is selected by default");

    let (status, body) =
        json_of(s.api(Method::PUT, "/calendars/selected", &token, Some(json!({"calendar_id": TEAM}))).await).await;
    assert_eq!((status, body["selected"]["id"].as_str()), (StatusCode::OK, Some(TEAM)));
    let (status, body) = json_of(
        s.api(Method::PUT, "/calendars/selected", &token, Some(json!({"calendar_id": "demo@example.com"}))).await,
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("calendar_not_writable")));
    let (_, body) = json_of(s.api(Method::GET, "/calendars", &token, None).await).await;
    let selected: Vec<&str> = body["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["selected"] == true)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(selected, [TEAM]);

    let stranger = s.token("t1", "stranger");
    let (status, body) = json_of(s.api(Method::GET, "/calendars", &stranger, None).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_connected")));
    s.stack.shutdown().await;
}

#[tokio::test]
async fn availability_reads_the_selected_and_primary_calendars() {
    let (s, token) = connected().await;
    s.api(Method::PUT, "/calendars/selected", &token, Some(json!({"calendar_id": TEAM}))).await;
    s.control(&format!("calendars/{SAM}/events"), json!([
        {"summary": "Patient A", "start": {"dateTime": "2030-01-02T09:00:00Z"}, "end": {"dateTime": "2030-01-02T10:00:00Z"}},
        {"summary": "Free", "transparency": "transparent", "start": {"dateTime": "2030-01-02T12:00:00Z"}, "end": {"dateTime": "2030-01-02T13:00:00Z"}}]))
    .await;
    s.control(&format!("calendars/{TEAM}/events"), json!([
        {"summary": "Team sync", "start": {"dateTime": "2030-01-02T09:30:00Z"}, "end": {"dateTime": "2030-01-02T11:00:00Z"}}]))
    .await;
    let calls_before = s.call_count("freebusy").await;
    let (status, body) = json_of(s.api(Method::POST, "/availability", &token, Some(week())).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["busy"]["u1"], json!([{"start": "2030-01-02T09:00:00Z", "end": "2030-01-02T11:00:00Z"}]));
    assert!(!body.to_string().contains("Patient A"), "event details never leave Google");
    assert_eq!(s.call_count("freebusy").await - calls_before, 1, "one FreeBusy call per user and window");

    // A 60-day range is cut into two windows Google accepts.
    let long = json!({"time_min": "2030-01-01T00:00:00Z", "time_max": "2030-03-02T00:00:00Z"});
    let before = s.call_count("freebusy").await;
    assert_eq!(s.api(Method::POST, "/availability", &token, Some(long)).await.status(), StatusCode::OK);
    assert_eq!(s.call_count("freebusy").await - before, 2);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn twenty_concurrent_requests_with_an_expired_token_refresh_once() {
    // given a connected user whose access token Google has expired
    let (s, token) = connected().await;
    s.control("tokens/expire", json!({})).await;
    s.http.post(format!("{}/_emulator/calls/reset", s.emulator())).send().await.unwrap();
    // when 20 availability requests arrive at once
    let requests = (0..20).map(|_| s.api(Method::POST, "/availability", &token, Some(week())));
    let responses = futures_util::future::join_all(requests).await;
    // then all 20 succeed and the emulator saw exactly one refresh
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(s.call_count("token_refresh").await, 1, "calls: {}", s.calls().await);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn a_calendar_freebusy_cannot_read_makes_its_user_unavailable() {
    let (s, token) = connected().await;
    s.api(Method::PUT, "/calendars/selected", &token, Some(json!({"calendar_id": TEAM}))).await;
    s.control("faults", json!({"endpoint": "freebusy", "calendar_id": TEAM})).await;
    let mut body = week();
    body["slots"] = json!({"duration_minutes": 30, "time_zone": "UTC", "working_hours": [{"days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "17:00"}]});
    let (status, body) = json_of(s.api(Method::POST, "/availability", &token, Some(body)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["unavailable"]["u1"], "calendar_error");
    assert_eq!(body["slots"], json!([]), "never offer a slot over a calendar we could not read");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn rate_limits_are_retried_and_persistent_5xx_answer_503() {
    let (s, token) = connected().await;
    s.control("faults", json!({"endpoint": "freebusy", "status": 429, "times": 1})).await;
    let before = s.call_count("freebusy").await;
    assert_eq!(s.api(Method::POST, "/availability", &token, Some(week())).await.status(), StatusCode::OK);
    assert_eq!(s.call_count("freebusy").await - before, 2, "429, then success");

    s.control("faults", json!({"endpoint": "freebusy", "status": 503, "times": 1000})).await;
    let response = s.api(Method::POST, "/availability", &token, Some(week())).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "temporarily_unavailable");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn invalid_grant_on_refresh_needs_a_reconnect() {
    let (s, token) = connected().await;
    s.control("tokens/expire", json!({})).await;
    s.control("faults", json!({"endpoint": "token_refresh", "status": 400, "body": {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}})).await;
    let (status, body) = json_of(s.api(Method::GET, "/calendars", &token, None).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("needs_reconnect")));
    let status_view = s.status(&token).await;
    assert_eq!(status_view["status"], "needs_reconnect");
    assert!(status_view["last_error"].as_str().unwrap().contains("invalid_grant"));
    let before = s.calls().await;
    let (_, body) = json_of(s.api(Method::POST, "/availability", &token, Some(week())).await).await;
    assert_eq!(body["unavailable"]["u1"], "needs_reconnect");
    assert_eq!(s.calls().await, before, "no Google call for a connection that needs reconnecting");
    s.stack.shutdown().await;
}
