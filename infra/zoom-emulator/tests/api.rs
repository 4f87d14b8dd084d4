//! The REST API over real HTTP: users/me, meetings with owner checks, start URL
//! freshness and expiry, the daily cap, faults and the call log.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use zoom_emulator::EmulatorConfig;

#[tokio::test]
async fn users_me_answers_the_authorized_user() {
    let harness = start().await;
    let token = harness.access_token(DEMO).await;
    let me: Value = harness.api(Method::GET, &token, "/users/me", None).await.json().await.unwrap();
    assert_eq!(me["email"], DEMO);
    assert_eq!(me["account_id"], zoom_emulator::DEFAULT_ACCOUNT_ID);
    assert_eq!(me["first_name"], "Demo");
    assert_eq!(me["last_name"], "User");
    assert_eq!(me["timezone"], "UTC");
    assert_eq!(me["type"], 2);
    assert_eq!(me["id"].as_str().unwrap().len(), 22);

    let other = harness.api(Method::GET, &token, "/users/alex@example.com", None).await;
    assert_eq!(other.status(), 400);
    let unknown = harness.api(Method::GET, &token, "/users/nobody", None).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["code"], 1001);
}

#[tokio::test]
async fn missing_expired_or_garbage_tokens_get_code_124() {
    let harness = start().await;
    let token = harness.access_token(DEMO).await;
    harness.control(Method::POST, "/tokens/expire", json!({"user": DEMO})).await;
    for bearer in [token.as_str(), "garbage"] {
        let response = harness.api(Method::GET, bearer, "/users/me", None).await;
        assert_eq!(response.status(), 401);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({"code": 124, "message": "Invalid access token."}));
    }
    let anonymous = harness.http.get(harness.url("/v2/users/me")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_meeting_is_created_read_patched_and_deleted_by_its_host_only() {
    let harness = start().await;
    let demo = harness.access_token(DEMO).await;
    let alex = harness.access_token(ALEX).await;

    let created = harness.api(Method::POST, &demo, "/users/me/meetings", Some(meeting_body())).await;
    assert_eq!(created.status(), 201);
    let meeting: Value = created.json().await.unwrap();
    let id = meeting["id"].as_i64().unwrap();
    assert!(id > 10_000_000_000);
    assert!(meeting["uuid"].is_string());
    assert_eq!(meeting["topic"], "Intro call");
    assert_eq!(meeting["type"], 2);
    assert_eq!(meeting["start_time"], "2030-01-01T09:00:00Z");
    assert_eq!(meeting["duration"], 30);
    assert_eq!(meeting["timezone"], "Europe/Berlin");
    assert_eq!(meeting["host_email"], DEMO);
    assert_eq!(meeting["settings"]["waiting_room"], true);
    assert!(meeting["join_url"].as_str().unwrap().contains(&format!("/j/{id}?pwd=")));
    assert!(meeting["start_url"].as_str().unwrap().contains("zak="));
    assert!(meeting["password"].is_string());

    let path = format!("/meetings/{id}");
    for method in [Method::GET, Method::DELETE] {
        let foreign = harness.api(method, &alex, &path, None).await;
        assert_eq!(foreign.status(), 404);
        assert_eq!(foreign.json::<Value>().await.unwrap()["code"], 3001);
    }
    let foreign_patch = harness.api(Method::PATCH, &alex, &path, Some(json!({"topic": "Mine"}))).await;
    assert_eq!(foreign_patch.status(), 404);

    let patched = harness
        .api(
            Method::PATCH,
            &demo,
            &path,
            Some(
                json!({"topic": "Moved", "start_time": "2030-01-02T10:00:00", "settings": {"join_before_host": true}}),
            ),
        )
        .await;
    assert_eq!(patched.status(), 204);
    let read: Value = harness.api(Method::GET, &demo, &path, None).await.json().await.unwrap();
    assert_eq!(read["topic"], "Moved");
    // Local time in the meeting's zone (Berlin, UTC+1 in January).
    assert_eq!(read["start_time"], "2030-01-02T09:00:00Z");
    assert_eq!(read["settings"]["join_before_host"], true);
    assert_eq!(read["settings"]["waiting_room"], true);

    let deleted = harness.api(Method::DELETE, &demo, &path, None).await;
    assert_eq!(deleted.status(), 204);
    let gone = harness.api(Method::GET, &demo, &path, None).await;
    assert_eq!(gone.status(), 404);
    assert_eq!(
        gone.json::<Value>().await.unwrap(),
        json!({"code": 3001, "message": format!("Meeting does not exist: {id}.")})
    );
    assert_eq!(harness.api(Method::DELETE, &demo, &path, None).await.status(), 404);

    let state = harness.get_control("/meetings").await;
    assert_eq!(state[0]["deleted"], true);
}

#[tokio::test]
async fn invalid_meeting_fields_are_refused_with_zooms_validation_shape() {
    let harness = start().await;
    let token = harness.access_token(DEMO).await;
    let bad = json!({
        "topic": "x".repeat(201),
        "type": 1,
        "start_time": "2030-01-01T09:00:00+01:00",
        "duration": -5,
        "timezone": "Mars/Olympus",
        "settings": {"waiting_room": "yes"},
    });
    let response = harness.api(Method::POST, &token, "/users/me/meetings", Some(bad)).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 300);
    assert_eq!(body["message"], "Validation Failed.");
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for field in ["topic", "type", "start_time", "duration", "timezone", "settings.waiting_room"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }

    let no_start = harness.api(Method::POST, &token, "/users/me/meetings", Some(json!({"topic": "t"}))).await;
    assert_eq!(no_start.status(), 400);
    let not_json =
        harness.http.post(harness.url("/v2/users/me/meetings")).bearer_auth(&token).body("[1,2]").send().await.unwrap();
    assert_eq!(
        not_json.json::<Value>().await.unwrap(),
        json!({"code": 300, "message": "Request Body should be a valid JSON object."})
    );
    assert_eq!(harness.get_control("/meetings").await, json!([]));
}

#[tokio::test]
async fn every_get_mints_a_fresh_start_url_that_expires() {
    let harness = start().await;
    let token = harness.access_token(DEMO).await;
    let meeting: Value =
        harness.api(Method::POST, &token, "/users/me/meetings", Some(meeting_body())).await.json().await.unwrap();
    let path = format!("/meetings/{}", meeting["id"]);
    let first: Value = harness.api(Method::GET, &token, &path, None).await.json().await.unwrap();
    let second: Value = harness.api(Method::GET, &token, &path, None).await.json().await.unwrap();
    let (first, second) = (first["start_url"].as_str().unwrap(), second["start_url"].as_str().unwrap());
    assert_ne!(first, second);
    assert_ne!(first, meeting["start_url"].as_str().unwrap());

    let opened = harness.http.get(second).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    // Each ZAK lives two hours from its issue.
    let zaks = harness.get_control("/tokens").await["zaks"].clone();
    for zak in zaks.as_array().unwrap() {
        let expires: jiff::Timestamp = zak["expires_at"].as_str().unwrap().parse().unwrap();
        let left = expires - jiff::Timestamp::now();
        assert!(left.get_seconds() <= 2 * 3600 && left.get_seconds() > 3600, "{zak}");
    }

    harness.control(Method::POST, "/tokens/expire", json!({"kind": "zak"})).await;
    assert_eq!(harness.http.get(second).send().await.unwrap().status(), 401);
    let fresh: Value = harness.api(Method::GET, &token, &path, None).await.json().await.unwrap();
    assert_eq!(harness.http.get(fresh["start_url"].as_str().unwrap()).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_daily_cap_answers_429_with_retry_after_at_utc_midnight() {
    let harness = start_with(EmulatorConfig { daily_meeting_cap: 2, ..EmulatorConfig::default() }).await;
    let demo = harness.access_token(DEMO).await;
    let meeting: Value =
        harness.api(Method::POST, &demo, "/users/me/meetings", Some(meeting_body())).await.json().await.unwrap();
    let patched =
        harness.api(Method::PATCH, &demo, &format!("/meetings/{}", meeting["id"]), Some(json!({"duration": 45}))).await;
    assert_eq!(patched.status(), 204);

    let refused = harness.api(Method::POST, &demo, "/users/me/meetings", Some(meeting_body())).await;
    assert_eq!(refused.status(), 429);
    let retry_after: jiff::Timestamp = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let midnight = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().tomorrow().unwrap();
    assert_eq!(retry_after, midnight.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp());
    assert_eq!(refused.headers()["x-ratelimit-type"], "Daily-limit");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 429);
    assert!(body["message"].as_str().unwrap().contains("daily rate limit (2)"));

    // The cap is per user.
    let alex = harness.access_token(ALEX).await;
    assert_eq!(harness.api(Method::POST, &alex, "/users/me/meetings", Some(meeting_body())).await.status(), 201);
}

#[tokio::test]
async fn faults_answer_in_zooms_shape_and_every_call_is_logged() {
    let harness = start().await;
    let token = harness.access_token(DEMO).await;
    harness.control(Method::POST, "/calls/reset", json!({})).await;
    harness.fault(json!({"endpoint": "meetings_create", "status": 429, "retry_after": 3})).await;
    harness.fault(json!({"endpoint": "users_me", "status": 503})).await;

    let limited = harness.api(Method::POST, &token, "/users/me/meetings", Some(meeting_body())).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "3");
    assert_eq!(limited.json::<Value>().await.unwrap()["code"], 429);
    let unavailable = harness.api(Method::GET, &token, "/users/me", None).await;
    assert_eq!(unavailable.status(), 503);
    assert!(unavailable.json::<Value>().await.unwrap()["message"].is_string());
    assert_eq!(harness.get_control("/meetings").await, json!([]));

    let dropped_fault = json!({"endpoint": "meetings_create", "kind": "apply_then_drop"});
    harness.fault(dropped_fault).await;
    assert!(
        harness
            .http
            .post(harness.url("/v2/users/me/meetings"))
            .bearer_auth(&token)
            .json(&meeting_body())
            .send()
            .await
            .is_err()
    );
    assert_eq!(harness.get_control("/meetings").await.as_array().unwrap().len(), 1);

    harness.http.get(harness.url("/v2/not/a/zoom/path")).send().await.unwrap();
    let calls = harness.get_control("/calls").await;
    let logged: Vec<String> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| format!("{} {}", call["method"].as_str().unwrap(), call["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        logged,
        vec!["POST /v2/users/me/meetings", "GET /v2/users/me", "POST /v2/users/me/meetings", "GET /v2/not/a/zoom/path"]
    );
    assert_eq!(calls["counts"]["meetings_create"], 2);
}

#[tokio::test]
async fn a_hosts_meetings_list_in_pages_without_start_urls_or_long_agendas() {
    let harness = start().await;
    let demo = harness.access_token(DEMO).await;
    let alex = harness.access_token(ALEX).await;
    let mut body = meeting_body();
    body["agenda"] = json!(format!("marker-1 {}", "x".repeat(400)));
    for _ in 0..3 {
        let created = harness.api(Method::POST, &demo, "/users/me/meetings", Some(body.clone())).await;
        assert_eq!(created.status(), 201);
    }
    harness.api(Method::POST, &alex, "/users/me/meetings", Some(meeting_body())).await;

    let first: Value =
        harness.api(Method::GET, &demo, "/users/me/meetings?page_size=2", None).await.json().await.unwrap();
    assert_eq!(first["total_records"], 3, "only the caller's meetings: {first}");
    let page = first["meetings"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    assert!(page.iter().all(|m| m.get("start_url").is_none()), "lists carry no start_url");
    assert_eq!(page[0]["agenda"].as_str().unwrap().chars().count(), 250, "agendas are cut in lists");
    let token = first["next_page_token"].as_str().unwrap();
    assert!(!token.is_empty());
    let path = format!("/users/me/meetings?page_size=2&next_page_token={token}");
    let second: Value = harness.api(Method::GET, &demo, &path, None).await.json().await.unwrap();
    assert_eq!(second["meetings"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_page_token"], "");

    // A token continues only its own query; sizes and types are Zoom's.
    for bad in [
        format!("/users/me/meetings?page_size=3&next_page_token={token}"),
        "/users/me/meetings?page_size=301".to_owned(),
        "/users/me/meetings?page_size=0".to_owned(),
        "/users/me/meetings?type=everything".to_owned(),
    ] {
        let response = harness.api(Method::GET, &demo, &bad, None).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(response.json::<Value>().await.unwrap()["code"], 300);
    }
    let other = harness.api(Method::GET, &demo, "/users/alex@example.com/meetings", None).await;
    assert_eq!(other.status(), 400);
}
