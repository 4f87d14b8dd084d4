//! End-to-end: a booking link minted by the app's service over HTTP, its slots fetched by
//! someone without any JWT from the URL it returned, and the refusals (tampered token, a user
//! minting for a colleague, a range outside the window, a revoked link, an expired link)
//! answered without any call reaching the Google emulator.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Stack, start};

const SAM: &str = "sam@example.com";

/// A stack where u1 of t1 connected sam@example.com, busy 2030-01-02 09:00-10:00 UTC.
async fn connected() -> Stack {
    let s = start().await;
    s.control("accounts", json!({"email": SAM, "sub": "100000000000000000003", "name": "Sam"})).await;
    let done = s.connect(&s.token("t1", "u1"), SAM).await;
    assert_eq!(support::outcome(&done)["status"], "connected");
    s.control(&format!("calendars/{SAM}/events"), json!([
        {"summary": "Patient A", "start": {"dateTime": "2030-01-02T09:00:00Z"}, "end": {"dateTime": "2030-01-02T10:00:00Z"}}]))
    .await;
    s
}

fn mint_body(users: &[&str]) -> Value {
    let expires_at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    json!({
        "user_ids": users,
        "time_min": "2030-01-01T00:00:00Z",
        "time_max": "2030-01-08T00:00:00Z",
        "slots": {"duration_minutes": 60, "time_zone": "UTC",
                  "working_hours": [{"days": ["wed"], "start": "09:00", "end": "12:00"}]},
        "expires_at": expires_at.to_string(),
    })
}

/// A GET with no Authorization header at all, as a patient's browser sends it.
async fn public_get(s: &Stack, url: &str) -> (StatusCode, String) {
    let response = s.http.get(url).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

fn code(text: &str) -> String {
    serde_json::from_str::<Value>(text).unwrap_or(Value::Null)["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_link_minted_by_the_service_serves_slots_without_a_jwt_until_it_is_revoked() {
    // given a connected user and the app's service
    let s = connected().await;
    let service = s.stack.service_token("t1");

    // when the service mints a link for the user
    let response = s.api(Method::POST, "/booking-links", &service, Some(mint_body(&["u1"]))).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let minted: Value = response.json().await.unwrap();
    let (id, token, url) =
        (minted["id"].as_str().unwrap(), minted["token"].as_str().unwrap(), minted["url"].as_str().unwrap());
    assert_eq!(url, format!("{}/booking/{token}/slots", s.base()), "the URL is on the API's public base");

    // then anyone holding the URL gets the free slots, and nothing else
    let (status, text) = public_get(&s, url).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let starts: Vec<&str> = body["slots"].as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2030-01-02T10:00:00Z", "2030-01-02T11:00:00Z"]);
    for leak in ["Patient", SAM, "busy", "unavailable", "calendar"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }

    // and refused requests cost no Google call
    let before = s.call_count("freebusy").await;
    let (payload, tag) = token.split_once('.').unwrap();
    let forged = format!("{payload}.{}{}", if tag.starts_with('A') { "B" } else { "A" }, &tag[1..]);
    let (status, text) = public_get(&s, &format!("{}/booking/{forged}/slots", s.base())).await;
    assert_eq!((status, code(&text)), (StatusCode::UNAUTHORIZED, "invalid_booking_link".to_owned()));
    let (status, text) = public_get(&s, &format!("{url}?time_min=2029-12-31T00:00:00Z")).await;
    assert_eq!((status, code(&text)), (StatusCode::BAD_REQUEST, "outside_booking_window".to_owned()));
    let user = s.token("t1", "u1");
    let colleague = s.api(Method::POST, "/booking-links", &user, Some(mint_body(&["u1", "u2"]))).await;
    assert_eq!(colleague.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.call_count("freebusy").await, before, "calls: {}", s.calls().await);

    // when the service revokes it, then the URL answers 410, still without calling Google
    let revoked = s.api(Method::DELETE, &format!("/booking-links/{id}"), &service, None).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let (status, text) = public_get(&s, url).await;
    assert_eq!((status, code(&text)), (StatusCode::GONE, "booking_link_revoked".to_owned()));
    assert_eq!(s.call_count("freebusy").await, before);

    // and minting or revoking still needs a JWT
    let anonymous = s.http.post(format!("{}/booking-links", s.base())).json(&mint_body(&["u1"])).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn an_expired_link_is_410_without_a_google_call() {
    // given a link the service minted to expire in two seconds (the local stack runs on the
    // system clock, so the link is let run out rather than the clock moved)
    let s = connected().await;
    let service = s.stack.service_token("t1");
    let expires_at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 2).unwrap();
    let mut body = mint_body(&["u1"]);
    body["expires_at"] = expires_at.to_string().into();
    let response = s.api(Method::POST, "/booking-links", &service, Some(body)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let minted: Value = response.json().await.unwrap();
    let url = minted["url"].as_str().unwrap();

    // when it is fetched after its expiry
    let wait = expires_at.duration_since(jiff::Timestamp::now()) + jiff::SignedDuration::from_millis(1100);
    tokio::time::sleep(std::time::Duration::try_from(wait).unwrap_or_default()).await;
    let before = s.calls().await;
    let (status, text) = public_get(&s, url).await;

    // then it answers 410 booking_link_expired, telling nothing else, and Google is not called
    assert_eq!((status, code(&text)), (StatusCode::GONE, "booking_link_expired".to_owned()), "{text}");
    for leak in ["Patient", SAM, "busy", "u1"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    assert_eq!(s.calls().await, before, "an expired link reached Google");
    s.stack.shutdown().await;
}
