//! Webhooks over real HTTP: a signed `app_deauthorized` that an independent HMAC
//! verifies and that revokes the user's tokens, and the `endpoint.url_validation`
//! check against a target that answers right and one that answers wrong.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use common::*;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook target on port 0 that records what it gets and answers
/// url_validation with `secret` (right or wrong).
async fn target(secret: &'static str) -> (String, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let app = Router::new().route(
        "/zoom/webhook",
        post(move |headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let event: Value = serde_json::from_str(&body).unwrap();
                log.lock().unwrap().push((headers, body));
                match event["payload"]["plainToken"].as_str() {
                    Some(plain) => axum::Json(json!({"plainToken": plain, "encryptedToken": hmac_hex(secret, plain)})),
                    None => axum::Json(json!({})),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/zoom/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn app_deauthorized_is_signed_verifiably_and_revokes_the_users_tokens() {
    let harness = start().await;
    let tokens = harness.tokens(DEMO).await;
    let alex = harness.access_token(ALEX).await;
    let demo_token = tokens["access_token"].as_str().unwrap();
    let demo: Value = harness.api(Method::GET, demo_token, "/users/me", None).await.json().await.unwrap();
    let (url, received) = target(WEBHOOK_SECRET).await;

    let record = harness.control(Method::POST, "/webhooks/deauthorize", json!({"user": DEMO, "target_url": url})).await;
    assert_eq!(record["revoked_grant"], true);
    assert_eq!(record["delivery"]["status"], 200);

    let (headers, body) = received.lock().unwrap().pop().unwrap();
    let timestamp = headers["x-zm-request-timestamp"].to_str().unwrap();
    let expected = format!("v0={}", hmac_hex(WEBHOOK_SECRET, &format!("v0:{timestamp}:{body}")));
    assert_eq!(headers["x-zm-signature"].to_str().unwrap(), expected);
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["event"], "app_deauthorized");
    assert!(event["event_ts"].is_i64());
    let payload = &event["payload"];
    assert_eq!(payload["client_id"], CLIENT_ID);
    assert_eq!(payload["account_id"], zoom_emulator::DEFAULT_ACCOUNT_ID);
    assert_eq!(payload["signature"].as_str().unwrap().len(), 64);
    assert!(payload["deauthorization_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(payload["user_id"], demo["id"]);

    let demo_me = harness.api(Method::GET, demo_token, "/users/me", None).await;
    assert_eq!(demo_me.status(), 401);
    assert_eq!(harness.refresh(tokens["refresh_token"].as_str().unwrap()).await.status(), 400);
    assert_eq!(harness.api(Method::GET, &alex, "/users/me", None).await.status(), 200);
}

#[tokio::test]
async fn without_a_target_the_signed_request_is_returned_for_the_test_to_send() {
    let harness = start().await;
    let record = harness.control(Method::POST, "/webhooks/deauthorize", json!({"user": ALEX})).await;
    assert_eq!(record["revoked_grant"], false);
    assert!(record["delivery"].is_null());
    let request = &record["request"];
    let body = request["body"].as_str().unwrap();
    let timestamp = request["headers"]["x-zm-request-timestamp"].as_str().unwrap();
    assert_eq!(
        request["headers"]["x-zm-signature"].as_str().unwrap(),
        format!("v0={}", hmac_hex(WEBHOOK_SECRET, &format!("v0:{timestamp}:{body}")))
    );
    assert_eq!(harness.get_control("/webhooks").await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn url_validation_accepts_the_right_answer_and_rejects_a_wrong_one() {
    let harness = start().await;
    let (good, _) = target(WEBHOOK_SECRET).await;
    let record = harness.control(Method::POST, "/webhooks/url_validation", json!({"target_url": good})).await;
    assert_eq!(record["valid"], true, "{record}");
    let plain = record["expected_answer"]["plainToken"].as_str().unwrap();
    assert_eq!(record["expected_answer"]["encryptedToken"], hmac_hex(WEBHOOK_SECRET, plain));

    let (bad, received) = target("not-the-secret").await;
    let record = harness.control(Method::POST, "/webhooks/url_validation", json!({"target_url": bad})).await;
    assert_eq!(record["valid"], false);
    assert_eq!(record["problems"].as_array().unwrap().len(), 1, "{record}");
    let (headers, body) = received.lock().unwrap().pop().unwrap();
    assert!(headers.contains_key("x-zm-signature"));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["event"], "endpoint.url_validation");
}
