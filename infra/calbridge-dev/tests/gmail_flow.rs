//! End-to-end over HTTP through the local stack and the Google emulator: Gmail connected as a
//! kind of its own (only `gmail.send` asked), a message sent and seen at the emulator,
//! disconnects that leave the other kind untouched, one message for five concurrent sends of
//! one Idempotency-Key, and bad input refused with nothing sent.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Stack, outcome, start};

const TENANT: &str = "demo-tenant";
const USER: &str = "demo-user";
const ACCOUNT: &str = "demo@example.com";

async fn sent(s: &Stack) -> Vec<Value> {
    let answer: Value =
        s.http.get(format!("{}/_emulator/gmail/sent", s.emulator())).send().await.unwrap().json().await.unwrap();
    answer["messages"].as_array().unwrap().clone()
}

async fn send(s: &Stack, token: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = s.http.post(format!("{}/messages/send", s.base())).bearer_auth(token).json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

fn message() -> Value {
    json!({
        "to": ["Ana Client <ana.client@example.net>"],
        "bcc": ["records@clinic.example"],
        "subject": "Your visit on Thursday",
        "text": "Hello Ana, see you on Thursday.",
        "html": "<p>Hello Ana, see you on Thursday.</p>",
    })
}

async fn connect_gmail(s: &Stack, token: &str) {
    let consent = s.begin_on("gmail", token).await;
    let scope = consent.url.query_pairs().find(|(k, _)| k == "scope").unwrap().1.into_owned();
    assert_eq!(scope, "openid email https://www.googleapis.com/auth/gmail.send", "mail asks for the minimum");
    let includes = consent.url.query_pairs().find(|(k, _)| k == "include_granted_scopes").map(|(_, v)| v.into_owned());
    assert_eq!(includes.as_deref(), Some("true"));
    let callback = s.decide(&consent, ACCOUNT, true, None).await;
    let done = s.callback(&callback, Some(&consent.cookie)).await;
    assert_eq!(done.status(), StatusCode::FOUND);
    let done = url::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(outcome(&done)["status"], "connected", "{done}");
}

async fn disconnect(s: &Stack, provider: &str, token: &str) -> Value {
    let response = s.api(Method::DELETE, &format!("/connections/{provider}"), token, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn gmail_only_sends_and_its_disconnect_leaves_calendar_untouched() {
    // given a user who connected Calendar first, then Gmail
    let s = start().await;
    let token = s.token(TENANT, USER);
    assert_eq!(outcome(&s.connect(&token, ACCOUNT).await)["status"], "connected");
    connect_gmail(&s, &token).await;
    let gmail = s.status_on("gmail", &token).await;
    assert_eq!((gmail["status"].as_str(), gmail["email"].as_str()), (Some("connected"), Some(ACCOUNT)));
    // (with include_granted_scopes Google reports the account's whole grant, Calendar's scopes
    // too: the kinds are separate rows, not separate grants)
    let scopes = gmail["scopes"].to_string();
    assert!(scopes.contains("gmail.send"), "{scopes}");
    assert!(!s.status(&token).await["scopes"].to_string().contains("gmail.send"), "Calendar's row is its own");

    // when the user sends a message
    let response = send(&s, &token, Some("visit-1"), &message()).await;

    // then the emulator sent it from the user's own address, Bcc included
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let messages = sent(&s).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], answer["id"]);
    assert_eq!(messages[0]["threadId"], answer["thread_id"]);
    assert_eq!(messages[0]["from"], ACCOUNT);
    assert_eq!(messages[0]["to"], json!(["ana.client@example.net"]));
    assert_eq!(messages[0]["bcc"], json!(["records@clinic.example"]));
    assert_eq!(messages[0]["subject"], "Your visit on Thursday");

    // when Gmail is disconnected
    let gone = disconnect(&s, "gmail", &token).await;

    // then the shared grant stays at Google and Calendar still works
    assert_eq!(
        (gone["revoked"].as_bool(), gone["revoke_skipped_reason"].as_str()),
        (Some(false), Some("grant_shared"))
    );
    assert_eq!(s.status_on("gmail", &token).await["status"], "not_connected");
    assert_eq!(s.status(&token).await["status"], "connected");
    let calendars = s.api(Method::GET, "/calendars", &token, None).await;
    assert_eq!(calendars.status(), StatusCode::OK);
    let refused = send(&s, &token, None, &message()).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "not_connected");
    assert_eq!(sent(&s).await.len(), 1);
}

#[tokio::test]
async fn calendar_disconnect_leaves_gmail_sending_and_the_last_kind_revokes() {
    // given a user who connected Gmail first, then Calendar
    let s = start().await;
    let token = s.token(TENANT, USER);
    connect_gmail(&s, &token).await;
    assert_eq!(outcome(&s.connect(&token, ACCOUNT).await)["status"], "connected");

    // when Calendar is disconnected, Gmail still sends
    let gone = disconnect(&s, "google", &token).await;
    assert_eq!(gone["revoked"], false);
    assert_eq!(s.status(&token).await["status"], "not_connected");
    assert_eq!(send(&s, &token, None, &message()).await.status(), StatusCode::OK);
    assert_eq!(sent(&s).await.len(), 1);

    // and disconnecting Gmail, the last kind, revokes the grant at Google
    let gone = disconnect(&s, "gmail", &token).await;
    assert_eq!(gone["revoked"], true, "{gone}");
}

#[tokio::test]
async fn five_concurrent_sends_of_one_key_send_one_message() {
    let s = start().await;
    let token = s.token(TENANT, USER);
    connect_gmail(&s, &token).await;
    let body = message();
    let answers = futures_util::future::join_all((0..5).map(|_| send(&s, &token, Some("burst-42"), &body))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
    assert!(statuses.contains(&200));
    assert_eq!(sent(&s).await.len(), 1, "one message at the emulator: {statuses:?}");

    // a later retry replays the first answer
    let replay = send(&s, &token, Some("burst-42"), &body).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(sent(&s).await.len(), 1);
}

#[tokio::test]
async fn a_lost_gmail_answer_is_never_sent_again() {
    let s = start().await;
    let token = s.token(TENANT, USER);
    connect_gmail(&s, &token).await;
    s.control("faults", json!({"endpoint": "gmail_send", "kind": "apply_then_drop"})).await;
    let lost = send(&s, &token, Some("lost-1"), &message()).await;
    assert_eq!(lost.status(), StatusCode::CONFLICT);
    assert_eq!(lost.json::<Value>().await.unwrap()["error"]["code"], "send_outcome_unknown");
    let retry = send(&s, &token, Some("lost-1"), &message()).await;
    assert_eq!(retry.json::<Value>().await.unwrap()["error"]["code"], "send_outcome_unknown");
    assert_eq!(s.call_count("gmail_send").await, 1);
    assert_eq!(sent(&s).await.len(), 1, "Gmail did send it once");
}

#[tokio::test]
async fn every_bad_input_is_400_and_nothing_reaches_gmail() {
    let s = start().await;
    let token = s.token(TENANT, USER);
    connect_gmail(&s, &token).await;
    let with = |field: &str, value: Value| {
        let mut body = message();
        body[field] = value;
        body
    };
    let many: Vec<String> = (0..60).map(|i| format!("r{i}@example.net")).collect();
    for (body, code) in [
        (with("subject", "Hi\r\nBcc: all@evil.example".into()), "invalid_header"),
        (with("reply_to", "x@example.net\nBcc: all@evil.example".into()), "invalid_header"),
        (with("to", json!(["not an address"])), "invalid_address"),
        (with("to", json!(many)), "too_many_recipients"),
        (with("subject", "s".repeat(1000).into()), "invalid_request"),
        (json!({ "to": ["a@example.net"], "subject": "no body" }), "invalid_request"),
        (with("text", "a".repeat(5 * 1024 * 1024).into()), "message_too_large"),
    ] {
        let response = send(&s, &token, Some("bad-1"), &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{code}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], code);
    }
    assert_eq!(s.call_count("gmail_send").await, 0);
    assert!(sent(&s).await.is_empty());
}

#[tokio::test]
async fn a_consent_without_gmail_send_is_refused_as_insufficient_scope() {
    // given a user who unticks gmail.send on the emulator's consent page
    let s = start().await;
    let token = s.token(TENANT, USER);
    let consent = s.begin_on("gmail", &token).await;
    let callback = s.decide(&consent, ACCOUNT, true, Some(&["openid"])).await;
    let done = s.callback(&callback, Some(&consent.cookie)).await;

    // then the connect fails as insufficient_scope, nothing is stored, and sending is refused
    let done = url::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(outcome(&done)["reason"], "insufficient_scope", "{done}");
    assert_eq!(s.status_on("gmail", &token).await["status"], "not_connected");
    assert_eq!(send(&s, &token, None, &message()).await.status(), StatusCode::CONFLICT);
    assert_eq!(s.call_count("gmail_send").await, 0);
}
