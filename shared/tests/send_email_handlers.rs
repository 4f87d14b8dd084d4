//! `POST /messages/send` on fakes: what is sent, what is refused before Gmail is called (the
//! fake's call counter proves it), and the Idempotency-Key's answers.

mod support;

use std::sync::atomic::Ordering;

use calbridge::fakes::GmailFault;
use calbridge::handlers::send_email;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use support::*;

fn send_event(body: Value, key: Option<&str>) -> Value {
    let mut event = event("send-email/send.json");
    event["body"] = body.to_string().into();
    match key {
        Some(key) => event["headers"]["idempotency-key"] = key.into(),
        None => {
            event["headers"].as_object_mut().unwrap().remove("idempotency-key");
        }
    }
    event
}

fn message() -> Value {
    json!({
        "user_id": USER,
        "to": ["Ana Client <ana.client@example.net>"],
        "bcc": ["records@clinic.example"],
        "subject": "Your visit on Thursday",
        "text": "Hello Ana",
    })
}

async fn send(h: &Harness, event: Value) -> Response<Body> {
    send_email::handle(&h.app, request(&event)).await
}

async fn gmail_connected() -> Harness {
    let h = harness();
    assert_eq!(h.connect_gmail(GMAIL_SCOPES).await["status"], "connected");
    h
}

fn calls(h: &Harness) -> usize {
    h.gmail.calls.load(Ordering::SeqCst)
}

#[tokio::test]
async fn the_sample_event_sends_from_the_connected_account() {
    // given a user with Gmail connected, when the service sends the sample event for them
    let h = gmail_connected().await;
    let response = send(&h, as_service(event("send-email/send.json"), TENANT)).await;

    // then Gmail gets one message from the user's own address, Bcc kept for Gmail to deliver
    assert_eq!(response.status(), 200, "{:?}", body_json(&response));
    let body = body_json(&response);
    assert_eq!(body["id"], "msg-1");
    assert_eq!(body["thread_id"], "thread-1");
    assert_eq!(body["idempotency_key"], "visit-1234-confirmation");
    assert_eq!(header(&response, "idempotent-replayed"), None);
    let sent = String::from_utf8(h.gmail.sent()[0].clone()).unwrap();
    assert!(sent.contains("From: dr.lee@example.com\r\n"), "{sent}");
    assert!(sent.contains("Bcc: records@clinic.example\r\n"));
    assert!(sent.contains("Reply-To: front.desk@clinic.example\r\n"));
    assert!(sent.contains("multipart/alternative"));
}

#[tokio::test]
async fn a_user_sends_only_as_themselves() {
    let h = gmail_connected().await;
    let own = send(&h, as_user(send_event(message(), None), TENANT, USER)).await;
    assert_eq!(own.status(), 200);
    let other = send(&h, as_user(send_event(message(), None), TENANT, "someone-else")).await;
    assert_eq!((other.status().as_u16(), error_code(&other)), (403, "forbidden".into()));
    let mut unnamed = message();
    unnamed.as_object_mut().unwrap().remove("user_id");
    let service = send(&h, as_service(send_event(unnamed, None), TENANT)).await;
    assert_eq!(error_code(&service), "user_required");
    assert_eq!(calls(&h), 1);
}

#[tokio::test]
async fn every_bad_input_is_refused_with_its_code_and_no_gmail_call() {
    let h = gmail_connected().await;
    let many: Vec<String> = (0..51).map(|i| format!("r{i}@example.net")).collect();
    let with = |field: &str, value: Value| {
        let mut body = message();
        body[field] = value;
        body
    };
    let cases = [
        (with("subject", "Hi\r\nBcc: everyone@evil.example".into()), "invalid_header"),
        (with("to", json!(["ana@example.net\r\nBcc: x@evil.example"])), "invalid_header"),
        (with("in_reply_to", "<a@b.example>\nX: y".into()), "invalid_header"),
        (with("to", json!(["not-an-address"])), "invalid_address"),
        (with("reply_to", "nobody@".into()), "invalid_address"),
        (with("cc", json!(many)), "too_many_recipients"),
        (json!({ "user_id": USER, "to": [], "subject": "s", "text": "t" }), "invalid_request"),
        (with("text", Value::Null), "invalid_request"),
        (with("subject", "s".repeat(999).into()), "invalid_request"),
        (with("unknown_field", "x".into()), "invalid_request"),
        (with("text", "a".repeat(send_email::MAX_SEND_BODY_BYTES).into()), "message_too_large"),
    ];
    for (body, code) in cases {
        let response = send(&h, as_service(send_event(body, Some("k-1")), TENANT)).await;
        assert_eq!((response.status().as_u16(), error_code(&response)), (400, code.to_owned()));
    }
    for key in ["", "has space", &"k".repeat(256)] {
        let response = send(&h, as_service(send_event(message(), Some(key)), TENANT)).await;
        assert_eq!(error_code(&response), "invalid_header", "{key:?}");
    }
    assert_eq!(calls(&h), 0, "nothing reached Gmail");
}

#[tokio::test]
async fn connection_problems_are_409_naming_gmail_and_call_no_gmail() {
    // not connected (Calendar connected does not count)
    let h = harness();
    let calendar = h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    assert_eq!(redirect_outcome(&calendar).1["status"], "connected");
    let response = send(&h, as_service(send_event(message(), None), TENANT)).await;
    assert_eq!((response.status().as_u16(), error_code(&response)), (409, "not_connected".into()));
    assert_eq!(body_json(&response)["error"]["provider"], "gmail");

    // needs_reconnect after Google refused the grant
    let h = gmail_connected().await;
    h.clock.advance(jiff::SignedDuration::from_hours(2));
    h.google.fail_next_refresh(calbridge::ports::OAuthError::InvalidGrant);
    let response = send(&h, as_service(send_event(message(), Some("k-2")), TENANT)).await;
    assert_eq!((response.status().as_u16(), error_code(&response)), (409, "needs_reconnect".into()));
    assert_eq!(body_json(&response)["error"]["provider"], "gmail");
    assert_eq!(calls(&h), 0);

    // Gmail itself says the grant lacks gmail.send
    let h = gmail_connected().await;
    h.gmail.fail_next(GmailFault::Forbidden);
    let response = send(&h, as_service(send_event(message(), Some("k-3")), TENANT)).await;
    assert_eq!((response.status().as_u16(), error_code(&response)), (409, "insufficient_scope".into()));
    // the key was released: nothing was sent, so the same key may try again
    let again = send(&h, as_service(send_event(message(), Some("k-3")), TENANT)).await;
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn gmail_limits_are_429_with_retry_after_and_outages_503() {
    let h = gmail_connected().await;
    for (fault, status, code) in [
        (GmailFault::RateLimited, 429, "gmail_rate_limited"),
        (GmailFault::DailyLimit, 429, "gmail_rate_limited"),
        (GmailFault::Unavailable, 503, "temporarily_unavailable"),
    ] {
        h.gmail.fail_next(fault);
        let response = send(&h, as_service(send_event(message(), Some("k-limit")), TENANT)).await;
        assert_eq!((response.status().as_u16(), error_code(&response)), (status, code.to_owned()), "{fault:?}");
        assert!(header(&response, "retry-after").is_some(), "{fault:?}");
    }
    assert!(h.gmail.sent().is_empty());
}

#[tokio::test]
async fn a_repeated_key_answers_the_first_result_and_never_sends_twice() {
    let h = gmail_connected().await;
    let first = send(&h, as_service(send_event(message(), Some("order-9")), TENANT)).await;
    assert_eq!(first.status(), 200);
    let again = send(&h, as_service(send_event(message(), Some("order-9")), TENANT)).await;
    assert_eq!(again.status(), 200);
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(body_json(&again), body_json(&first));

    // the same key for another message is refused
    let mut other = message();
    other["subject"] = "Something else".into();
    let reused = send(&h, as_service(send_event(other, Some("order-9")), TENANT)).await;
    assert_eq!((reused.status().as_u16(), error_code(&reused)), (422, "idempotency_key_reused".into()));
    assert_eq!(h.gmail.sent().len(), 1);

    // a day later the key is free again
    h.clock.advance(jiff::SignedDuration::from_hours(25));
    let later = send(&h, as_service(send_event(message(), Some("order-9")), TENANT)).await;
    assert_eq!((later.status().as_u16(), header(&later, "idempotent-replayed")), (200, None));
    assert_eq!(h.gmail.sent().len(), 2);
}

#[tokio::test]
async fn concurrent_sends_of_one_key_send_once() {
    let h = gmail_connected().await;
    h.gmail.delay_ms.store(300, Ordering::SeqCst);
    let attempts = (0..5).map(|_| send(&h, as_service(send_event(message(), Some("burst-1")), TENANT)));
    let answers = futures_util::future::join_all(attempts).await;
    assert_eq!(h.gmail.sent().len(), 1, "one message whatever the concurrency");
    let ids: Vec<Value> = answers.iter().filter(|r| r.status() == 200).map(|r| body_json(r)["id"].clone()).collect();
    assert_eq!(ids.len(), 5, "each waited for the first: {:?}", answers.iter().map(error_code).collect::<Vec<_>>());
    assert!(ids.iter().all(|id| *id == ids[0]));
}

#[tokio::test]
async fn a_lost_gmail_answer_makes_the_key_unknown_and_it_is_never_sent_again() {
    let h = gmail_connected().await;
    h.gmail.fail_next(GmailFault::LostAnswer);
    let lost = send(&h, as_service(send_event(message(), Some("lost-1")), TENANT)).await;
    assert_eq!((lost.status().as_u16(), error_code(&lost)), (409, "send_outcome_unknown".into()));
    for _ in 0..3 {
        let retry = send(&h, as_service(send_event(message(), Some("lost-1")), TENANT)).await;
        assert_eq!(error_code(&retry), "send_outcome_unknown");
    }
    assert_eq!(calls(&h), 1, "one call, however often the client retries");
}
