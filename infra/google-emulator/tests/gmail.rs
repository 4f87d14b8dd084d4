//! Gmail's `users.messages.send` over real HTTP: what it accepts, what it refuses (and then
//! records nothing), threading, and the `gmail_send` faults.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const SEND: &str = "/gmail/v1/users/me/messages/send";
const GMAIL_SEND: &str = "openid email https://www.googleapis.com/auth/gmail.send";

fn message(from: &str, extra_headers: &str) -> String {
    format!(
        "From: {from}\r\nTo: Ana <ana@example.net>\r\nBcc: records@example.org\r\nSubject: Hello\r\n\
         Message-ID: <m1@example.com>\r\n{extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Ana\r\n"
    )
}

async fn send_raw(harness: &Harness, token: &str, raw: &str) -> reqwest::Response {
    harness.api_send(Method::POST, token, SEND, json!({ "raw": raw })).await
}

async fn sent(harness: &Harness) -> Vec<Value> {
    harness.control_get("/_emulator/gmail/sent").await["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_valid_message_is_sent_recorded_and_threaded() {
    let harness = start().await;
    let token = harness.access_token(DEMO, GMAIL_SEND).await;
    let response = send_raw(&harness, &token, &URL_SAFE_NO_PAD.encode(message(DEMO, ""))).await;
    assert_eq!(response.status(), 200);
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["labelIds"], json!(["SENT"]));
    let id = first["id"].as_str().unwrap();
    assert_eq!(id.len(), 16);
    assert_eq!(first["threadId"], first["id"]);

    let recorded = sent(&harness).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["to"], json!(["ana@example.net"]));
    assert_eq!(recorded[0]["bcc"], json!(["records@example.org"]));
    assert_eq!(recorded[0]["subject"], "Hello");
    assert_eq!(recorded[0]["text"].as_str().unwrap().trim_end(), "Hi Ana");

    // a reply joins the thread (padding is accepted too)
    let reply = message(DEMO, "In-Reply-To: <m1@example.com>\r\n").replace("Message-ID: <m1@", "Message-ID: <m2@");
    let second: Value = send_raw(&harness, &token, &URL_SAFE.encode(reply)).await.json().await.unwrap();
    assert_eq!(second["threadId"], first["threadId"]);
    assert_ne!(second["id"], first["id"]);
}

#[tokio::test]
async fn refusals_send_nothing() {
    let harness = start().await;
    let token = harness.access_token(DEMO, GMAIL_SEND).await;
    let calendar_only = harness.access_token(DEMO, CALENDAR).await;
    let good = message(DEMO, "");

    let no_scope = send_raw(&harness, &calendar_only, &URL_SAFE_NO_PAD.encode(&good)).await;
    assert_eq!(no_scope.status(), 403);
    assert_eq!(reason(&no_scope.json().await.unwrap()), "insufficientPermissions");
    assert_eq!(send_raw(&harness, "not-a-token", &URL_SAFE_NO_PAD.encode(&good)).await.status(), 401);

    // standard base64 with `+`/`/` is not base64url
    let mut standard = STANDARD.encode(format!("{good}??>>"));
    assert!(standard.contains('+') || standard.contains('/'), "{standard}");
    standard = standard.trim_end_matches('=').to_owned();
    let cases = [
        standard,
        String::new(),
        URL_SAFE_NO_PAD.encode(message(ALEX, "")),
        URL_SAFE_NO_PAD.encode(good.replace("To: Ana <ana@example.net>\r\nBcc: records@example.org\r\n", "")),
        URL_SAFE_NO_PAD.encode(good.replace("Subject: Hello\r\n", "Subject: Hello\nBcc: evil@example.net\r\n")),
        URL_SAFE_NO_PAD.encode(good.replace("\r\n\r\n", "\n\n")),
        URL_SAFE_NO_PAD.encode(good.replace("Subject: Hello\r\n", "Subject Hello\r\n")),
        URL_SAFE_NO_PAD.encode(good.replace("ana@example.net", "ana")),
    ];
    for raw in cases {
        let response = send_raw(&harness, &token, &raw).await;
        assert_eq!(response.status(), 400, "{raw}");
        assert_eq!(reason(&response.json().await.unwrap()), "invalidArgument");
    }
    let missing = harness.api_send(Method::POST, &token, SEND, json!({})).await;
    assert_eq!(missing.status(), 400);
    assert!(sent(&harness).await.is_empty());
}

#[tokio::test]
async fn gmail_send_faults_answer_limits_and_lose_answers() {
    let harness = start().await;
    let token = harness.access_token(DEMO, GMAIL_SEND).await;
    let raw = URL_SAFE_NO_PAD.encode(message(DEMO, ""));

    harness.fault(json!({"endpoint": "gmail_send", "status": 429, "retry_after": 9})).await;
    let limited = send_raw(&harness, &token, &raw).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "9");
    assert!(sent(&harness).await.is_empty());

    harness.fault(json!({"endpoint": "gmail_send", "kind": "apply_then_drop"})).await;
    let lost = harness.http.post(harness.url(SEND)).bearer_auth(&token).json(&json!({"raw": raw})).send().await;
    assert!(lost.is_err(), "the connection closes unanswered");
    assert_eq!(sent(&harness).await.len(), 1, "but the message went out");
    assert_eq!(harness.calls().await["gmail_send"], 2);
}
