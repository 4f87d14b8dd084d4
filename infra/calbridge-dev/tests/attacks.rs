//! The attacks of issue 12 replayed over real HTTP against the local stack, each by a client of
//! the clinic holding a valid user JWT of the tenant: every one is refused with its status and
//! error code, the Google emulator counts no new call for it, and the victim's state is as it
//! was (the event still in Google's calendar, the meeting still the host's). Then the limits,
//! each tried once over HTTP, and a user's Google call budget running out.
//!
//! The victim throughout: Dr Lee (`dr-lee` of `clinic-42`), connected to the emulator's
//! `demo@example.com`; the attacker: `client-31`, one of the clinic's clients.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Stack, start, start_with};

const TENANT: &str = "clinic-42";
const DR_LEE: &str = "dr-lee";
const CLIENT: &str = "client-31";
const CALENDAR: &str = "demo@example.com";

/// A stack where Dr Lee connected their calendar.
async fn victim_connected(extra: &[(&str, &str)]) -> Stack {
    let s = if extra.is_empty() { start().await } else { start_with(extra).await };
    let done = s.connect(&s.token(TENANT, DR_LEE), CALENDAR).await;
    assert_eq!(support::outcome(&done)["status"], "connected");
    s
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// (status, error code) of a response.
async fn refusal(response: reqwest::Response) -> (StatusCode, String) {
    let (status, body) = json_of(response).await;
    (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

/// The events Google holds on Dr Lee's calendar, cancelled ones included.
async fn stored(s: &Stack) -> Vec<Value> {
    let url = format!("{}/_emulator/calendars/{CALENDAR}/events", s.emulator());
    let body: Value = s.http.get(url).send().await.unwrap().json().await.unwrap();
    body.as_array().cloned().unwrap_or_default()
}

/// The live (not cancelled) events Google holds for appointment `id`.
async fn live_appointment(s: &Stack, id: &str) -> Vec<Value> {
    stored(s)
        .await
        .into_iter()
        .filter(|e| e["status"] != "cancelled" && e["extendedProperties"]["private"]["calbridge_appointment"] == id)
        .collect()
}

/// Unix milliseconds now: a version the app would really send.
fn now_version() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap()
}

fn appointment(action: &str, version: u64, hour: u32) -> Value {
    json!({
        "appointment_id": "a-123", "user_id": DR_LEE, "action": action, "version": version,
        "start": format!("2030-01-02T{hour:02}:00:00Z"), "end": format!("2030-01-02T{hour:02}:50:00Z"),
        "time_zone": "America/Chicago",
    })
}

/// Dr Lee connected, appointment a-123 synced by the service at version `version` (15:00).
async fn appointment_synced() -> (Stack, u64) {
    let s = victim_connected(&[]).await;
    let version = now_version();
    let service = s.service(TENANT);
    let (status, body) = json_of(
        s.api(Method::POST, "/appointments/a-123/sync", &service, Some(appointment("create", version, 15))).await,
    )
    .await;
    assert_eq!((status, body["outcome"].as_str()), (StatusCode::OK, Some("synced")), "{body}");
    assert_eq!(live_appointment(&s, "a-123").await.len(), 1);
    (s, version)
}

#[tokio::test]
async fn attack_1_a_client_deleting_an_appointment_at_version_max_is_403_and_writes_no_tombstone() {
    // given Dr Lee's appointment synced by the service, and the calls Google has seen so far
    let (s, version) = appointment_synced().await;
    let service = s.service(TENANT);
    let record_before = s.api(Method::GET, "/appointments/a-123/sync", &service, None).await.text().await.unwrap();
    let calls = s.calls().await;

    // when a client of the clinic deletes it at the largest version there is
    let client = s.token(TENANT, CLIENT);
    let attack = json!({"user_id": DR_LEE, "action": "delete", "version": u64::MAX});
    let response = s.api(Method::POST, "/appointments/a-123/sync", &client, Some(attack.clone())).await;

    // then it is refused, Google saw nothing, and the event is still on the calendar
    assert_eq!(refusal(response).await, (StatusCode::FORBIDDEN, "forbidden".to_owned()));
    assert_eq!(s.calls().await, calls, "the refused delete reached Google");
    assert_eq!(live_appointment(&s, "a-123").await.len(), 1, "the event was deleted at Google");

    // when the service itself sends version u64::MAX
    let response = s.api(Method::POST, "/appointments/a-123/sync", &service, Some(attack)).await;
    // then it is out of range, still without a Google call or a record change
    assert_eq!(refusal(response).await, (StatusCode::BAD_REQUEST, "version_out_of_range".to_owned()));
    assert_eq!(s.calls().await, calls);
    let record_after = s.api(Method::GET, "/appointments/a-123/sync", &service, None).await.text().await.unwrap();
    assert_eq!(record_after, record_before, "the sync record changed");

    // and the service's next real change, at an ordinary version, still applies (no tombstone)
    let (status, body) = json_of(
        s.api(Method::POST, "/appointments/a-123/sync", &service, Some(appointment("update", version + 1, 17))).await,
    )
    .await;
    assert_eq!((status, body["outcome"].as_str()), (StatusCode::OK, Some("synced")), "{body}");
    let events = live_appointment(&s, "a-123").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["start"]["dateTime"].as_str().unwrap()[..16], *"2030-01-02T17:00", "{events:?}");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn attack_2_a_client_reading_a_sync_record_is_403() {
    // given Dr Lee's appointment synced by the service
    let (s, _) = appointment_synced().await;
    let calls = s.calls().await;

    // when a client, or Dr Lee themself, reads its sync record
    for user in [CLIENT, DR_LEE] {
        let response = s.api(Method::GET, "/appointments/a-123/sync", &s.token(TENANT, user), None).await;
        // then it is refused: sync records are the service's
        assert_eq!(refusal(response).await, (StatusCode::FORBIDDEN, "forbidden".to_owned()), "{user}");
    }
    assert_eq!(s.calls().await, calls);
    s.stack.shutdown().await;
}

fn session(host: &str) -> Value {
    json!({"host_user_id": host, "start": "2030-01-02T15:00:00Z", "end": "2030-01-02T15:50:00Z",
           "time_zone": "Europe/Lisbon", "title": "Session", "participant_user_ids": [CLIENT]})
}

#[tokio::test]
async fn attack_3_a_client_attaching_their_own_link_to_the_hosts_session_is_403() {
    // given the service made a Meet for Dr Lee's session s-77 with the client as participant
    let s = victim_connected(&[]).await;
    let service = s.service(TENANT);
    let (status, real) =
        json_of(s.api(Method::POST, "/sessions/s-77/meeting", &service, Some(session(DR_LEE))).await).await;
    assert_eq!(status, StatusCode::CREATED, "{real}");
    assert!(real["meeting_url"].as_str().unwrap().starts_with("https://meet.google.com/"), "{real}");
    let calls = s.calls().await;
    let events = stored(&s).await;

    // when the client posts their own Zoom link for it (the attach form), naming Dr Lee or
    // themself as the host
    let client = s.token(TENANT, CLIENT);
    for host in [DR_LEE, CLIENT] {
        let mut zoom = session(host);
        zoom["existing_url"] = "https://us02web.zoom.us/j/81234567890?pwd=abc".into();
        let response = s.api(Method::POST, "/sessions/s-77/meeting", &client, Some(zoom)).await;
        // then it is refused (ALLOW_USER_MEETINGS is off by default), with no Google call
        assert_eq!(refusal(response).await, (StatusCode::FORBIDDEN, "forbidden".to_owned()), "host {host}");
    }
    assert_eq!(s.calls().await, calls, "a refused attach reached Google");
    assert_eq!(stored(&s).await, events, "Google's event changed");

    // and the meeting is still the host's: the participant sees the real link, the host reads it
    let (status, seen) = json_of(s.api(Method::GET, "/sessions/s-77/meeting", &client, None).await).await;
    assert_eq!((status, &seen["meeting_url"]), (StatusCode::OK, &real["meeting_url"]));
    assert_eq!(seen["host_user_id"], DR_LEE);
    let host = s.token(TENANT, DR_LEE);
    let (status, view) = json_of(s.api(Method::GET, "/sessions/s-77/meeting", &host, None).await).await;
    assert_eq!((status, view), (StatusCode::OK, real));
    // and the host still cancels it
    assert_eq!(s.api(Method::DELETE, "/sessions/s-77/meeting", &host, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(stored(&s).await[0]["status"], "cancelled");
    s.stack.shutdown().await;
}

fn week() -> Value {
    json!({"user_ids": [DR_LEE], "time_min": "2030-01-01T00:00:00Z", "time_max": "2030-01-08T00:00:00Z"})
}

fn slot_rules() -> Value {
    json!({"duration_minutes": 60, "time_zone": "UTC",
           "working_hours": [{"days": ["wed"], "start": "09:00", "end": "12:00"}]})
}

#[tokio::test]
async fn attack_4_a_client_asking_a_colleagues_busy_time_or_calendars_is_403_and_slots_show_no_busy() {
    // given Dr Lee connected, busy 09:00-10:00 on Wednesday 2030-01-02
    let s = victim_connected(&[]).await;
    s.control(&format!("calendars/{CALENDAR}/events"), json!([
        {"summary": "Patient A", "start": {"dateTime": "2030-01-02T09:00:00Z"}, "end": {"dateTime": "2030-01-02T10:00:00Z"}}]))
    .await;
    let client = s.token(TENANT, CLIENT);
    let calls = s.calls().await;

    // when a client asks Dr Lee's availability without slots (their busy time)
    let response = s.api(Method::POST, "/availability", &client, Some(week())).await;
    // then it is refused without a FreeBusy call
    assert_eq!(refusal(response).await, (StatusCode::FORBIDDEN, "forbidden".to_owned()));
    // and so is naming Dr Lee's calendars, even with slots
    let mut calendars = week();
    calendars["slots"] = slot_rules();
    calendars["calendar_ids"] = json!({DR_LEE: [CALENDAR]});
    let response = s.api(Method::POST, "/availability", &client, Some(calendars)).await;
    assert_eq!(refusal(response).await, (StatusCode::FORBIDDEN, "forbidden".to_owned()));
    assert_eq!(s.calls().await, calls, "a refused request reached Google");

    // when the client asks for Dr Lee's slots
    let mut slots = week();
    slots["slots"] = slot_rules();
    let response = s.api(Method::POST, "/availability", &client, Some(slots)).await;
    // then they get the free slots only: no busy time or connection state of Dr Lee (the
    // `busy` and `unavailable` maps hold only users the caller may act for: none here), and
    // nothing of the event
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((&body["busy"], &body["unavailable"]), (&json!({}), &json!({})), "{text}");
    assert!(!text.contains("Patient A") && !text.contains(CALENDAR), "{text}");
    let starts: Vec<&str> = body["slots"].as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2030-01-02T10:00:00Z", "2030-01-02T11:00:00Z"]);
    s.stack.shutdown().await;
}

/// A one-week slots request by a client for Dr Lee, with `patch` merged into `slots`.
fn client_slots(patch: Value) -> Value {
    let mut body = week();
    body["slots"] = json!({"duration_minutes": 30, "time_zone": "UTC",
                           "working_hours": [{"days": ["wed"], "start": "09:00", "end": "17:00"}]});
    for (k, v) in patch.as_object().unwrap() {
        body["slots"][k] = v.clone();
    }
    body
}

fn all_day_rules(n: usize) -> Value {
    json!(vec![json!({"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}); n])
}

#[tokio::test]
async fn attack_5_every_limit_tried_over_http_is_refused_with_its_code_and_no_google_call() {
    // given Dr Lee connected, and a client of the clinic
    let s = victim_connected(&[]).await;
    let client = s.token(TENANT, CLIENT);
    let calls = s.calls().await;

    let heavy = client_slots(json!({"working_hours": all_day_rules(220), "step_minutes": 5}));
    assert!(heavy.to_string().len() > 17_000 && heavy.to_string().len() < 64 * 1024);
    let mut year = client_slots(json!({"duration_minutes": 1, "step_minutes": 1, "working_hours": all_day_rules(1)}));
    year["time_max"] = "2030-01-02T00:00:00Z".into();
    year["time_min"] = "2029-01-02T00:00:00Z".into();
    let mut minute_steps = client_slots(json!({"step_minutes": 1}));
    minute_steps["time_max"] = "2030-01-08T00:00:00Z".into();
    let mut calendars = client_slots(json!({}));
    calendars["user_ids"] = json!([CLIENT]);
    calendars["calendar_ids"] =
        json!({CLIENT: (0..251).map(|i| format!("c-{i}@group.calendar.google.com")).collect::<Vec<_>>()});
    let cases = [
        (
            "the buffer that made ~1000 FreeBusy calls",
            client_slots(json!({"buffer_before_minutes": 52_560_000})),
            400,
            "buffer_too_long",
        ),
        ("17 KB of working-hours rules", heavy, 400, "too_many_working_hours"),
        ("a year of 1-minute steps", year, 400, "time_range_too_long"),
        ("1-minute steps over a week", minute_steps, 400, "invalid_step"),
        ("251 calendars", calendars, 400, "too_many_calendars"),
        ("a body over 64 KiB", json!({"padding": "x".repeat(64 * 1024)}), 413, "payload_too_large"),
    ];
    for (what, body, status, code) in cases {
        // when the client sends it
        let response = s.api(Method::POST, "/availability", &client, Some(body)).await;
        // then it is refused with its status and code, before any Google call
        assert_eq!(refusal(response).await, (StatusCode::from_u16(status).unwrap(), code.to_owned()), "{what}");
        assert_eq!(s.calls().await, calls, "{what} reached Google");
    }

    // a query string over 8 KiB, on a route that calls Google
    let response = s.api(Method::GET, &format!("/calendars?{}", "q=1&".repeat(2100)), &client, None).await;
    assert_eq!(refusal(response).await, (StatusCode::BAD_REQUEST, "query_too_long".to_owned()));
    // and a body over 64 KiB on every other JSON route
    let padding = json!({"padding": "x".repeat(64 * 1024)});
    for (method, path) in [
        (Method::POST, "/appointments/a-123/sync"),
        (Method::POST, "/sessions/s-77/meeting"),
        (Method::PUT, "/calendars/selected"),
        (Method::POST, "/booking-links"),
        (Method::POST, "/connections/google/authorize"),
    ] {
        let token = if path == "/appointments/a-123/sync" { s.service(TENANT) } else { client.clone() };
        let response = s.api(method, path, &token, Some(padding.clone())).await;
        assert_eq!(refusal(response).await, (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".to_owned()), "{path}");
    }
    assert_eq!(s.calls().await, calls, "a refused request reached Google");
    assert!(stored(&s).await.is_empty(), "nothing was written to Google");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn attack_5_the_widest_valid_slots_request_is_capped_at_500_slots_with_next_time_min() {
    // given Dr Lee connected
    let s = victim_connected(&[]).await;
    let client = s.token(TENANT, CLIENT);
    // when a client asks 62 days of 24-hour, 5-minute slots (17,856 before the cap)
    let mut wide = client_slots(json!({"duration_minutes": 5, "working_hours": all_day_rules(1)}));
    wide["time_min"] = "2030-01-01T00:00:00Z".into();
    wide["time_max"] = "2030-03-04T00:00:00Z".into();
    let response = s.api(Method::POST, "/availability", &client, Some(wide)).await;
    // then one page of 500 slots comes back, with where the next page starts
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.len() < 200 * 1024, "{} bytes", text.len());
    let body: Value = serde_json::from_str(&text).unwrap();
    let slots = body["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 500);
    let last_end = slots[499]["end"].as_str().unwrap();
    assert!(body["next_time_min"].as_str().is_some_and(|next| next >= last_end), "{}", body["next_time_min"]);
    assert_eq!(body["busy"], json!({}), "no busy time of Dr Lee for a client");
    s.stack.shutdown().await;
}

/// Waits out the last seconds of a minute, so a test spending a per-minute budget stays inside
/// one minute (a wait before the test, not a timed assertion).
async fn away_from_a_minute_boundary() {
    let second = jiff::Timestamp::now().as_second().rem_euclid(60);
    if second >= 50 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::try_from(61 - second).unwrap())).await;
    }
}

#[tokio::test]
async fn attack_5_a_spent_google_budget_is_429_with_retry_after_and_no_google_call() {
    // given a stack whose budget is 2 Google Calendar calls per user and minute
    let s = victim_connected(&[("GOOGLE_CALLS_PER_USER_MINUTE", "2")]).await;
    let client = s.token(TENANT, CLIENT);
    let calls = s.calls().await;

    // when a client asks slots needing more FreeBusy windows than the budget (64 days of lookup)
    let mut wide = client_slots(json!({"buffer_before_minutes": 1440, "buffer_after_minutes": 1440}));
    wide["time_max"] = "2030-03-04T00:00:00Z".into();
    let response = s.api(Method::POST, "/availability", &client, Some(wide)).await;
    // then it is refused before the first call
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    assert_eq!(refusal(response).await, (StatusCode::TOO_MANY_REQUESTS, "rate_limited".to_owned()));
    assert!(retry_after.is_some_and(|seconds| (1..=60).contains(&seconds)), "Retry-After {retry_after:?}");
    assert_eq!(s.calls().await, calls);

    // when the client spends Dr Lee's two calls of the minute on slots
    away_from_a_minute_boundary().await;
    for _ in 0..2 {
        let response = s.api(Method::POST, "/availability", &client, Some(client_slots(json!({})))).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let spent = s.calls().await;
    assert_eq!(s.call_count("freebusy").await, calls["freebusy"].as_u64().unwrap_or(0) + 2);

    // then the next request, and Dr Lee's own calendar list, are 429 with no Google call
    let response = s.api(Method::POST, "/availability", &client, Some(client_slots(json!({})))).await;
    assert!(response.headers().get("retry-after").is_some());
    assert_eq!(refusal(response).await, (StatusCode::TOO_MANY_REQUESTS, "rate_limited".to_owned()));
    let response = s.api(Method::GET, "/calendars", &s.token(TENANT, DR_LEE), None).await;
    assert!(response.headers().get("retry-after").is_some());
    assert_eq!(refusal(response).await, (StatusCode::TOO_MANY_REQUESTS, "rate_limited".to_owned()));
    assert_eq!(s.calls().await, spent, "a request over budget reached Google");
    s.stack.shutdown().await;
}
