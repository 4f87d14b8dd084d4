//! Fault injection and the control endpoints, over real HTTP: each fault kind
//! does what a retrying client must survive, counters count, reset resets.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const EVENTS: &str = "/calendar/v3/calendars/primary/events";
const FREEBUSY_PATH: &str = "/calendar/v3/freeBusy";

fn event(summary: &str) -> Value {
    json!({
        "summary": summary,
        "start": {"dateTime": "2030-01-01T09:00:00Z"},
        "end": {"dateTime": "2030-01-01T10:00:00Z"},
    })
}

fn freebusy_query(items: &[&str]) -> Value {
    json!({
        "timeMin": "2030-01-01T00:00:00Z",
        "timeMax": "2030-01-02T00:00:00Z",
        "items": items.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn a_respond_fault_answers_in_googles_shape_with_retry_after_then_clears() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR).await;
    harness.fault(json!({"endpoint": "freebusy", "status": 429, "retry_after": 7, "times": 2})).await;

    for _ in 0..2 {
        let response = harness.api_send(Method::POST, &token, FREEBUSY_PATH, freebusy_query(&["primary"])).await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], 429);
        assert_eq!(reason(&body), "rateLimitExceeded");
        assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    }
    let response = harness.api_send(Method::POST, &token, FREEBUSY_PATH, freebusy_query(&["primary"])).await;
    assert_eq!(response.status(), 200);
    assert_eq!(harness.calls().await["freebusy"], 3);
}

#[tokio::test]
async fn a_fault_can_carry_its_own_body_and_hit_any_endpoint() {
    let harness = start().await;
    harness.fault(json!({"endpoint": "*", "status": 500, "body": {"error": "custom"}})).await;
    let response = harness.http.get(harness.url("/oauth2/v3/certs")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"error": "custom"}));
    let response = harness.http.get(harness.url("/oauth2/v3/certs")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_token_refresh_fault_spares_code_exchanges() {
    let harness = start().await;
    harness.fault(json!({"endpoint": "token_refresh", "status": 503})).await;
    let tokens = harness.tokens_for(DEMO, CALENDAR).await; // code exchange unaffected
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let failed = harness.refresh(refresh_token).await;
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");
    assert_eq!(harness.refresh(refresh_token).await.status(), 200);
    let calls = harness.calls().await;
    assert_eq!(calls["token"], 3);
    assert_eq!(calls["token_refresh"], 2);
}

#[tokio::test]
async fn a_timeout_fault_answers_late_and_a_short_client_timeout_gives_up() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR).await;
    harness.fault(json!({"endpoint": "calendar_list", "kind": "timeout", "delay_ms": 300})).await;
    let started = Instant::now();
    let response = harness.api_get(&token, "/calendar/v3/users/me/calendarList").await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    harness.fault(json!({"endpoint": "calendar_list", "kind": "timeout", "delay_ms": 2000})).await;
    let impatient = harness
        .http
        .get(harness.url("/calendar/v3/users/me/calendarList"))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(150))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
}

#[tokio::test]
async fn a_drop_fault_closes_the_connection_without_an_answer() {
    let harness = start().await;
    harness.fault(json!({"endpoint": "token", "kind": "drop"})).await;
    let started = Instant::now();
    let error = harness
        .http
        .post(harness.url("/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The next request is answered normally (invalid_client: no credentials).
    let response = harness
        .http
        .post(harness.url("/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(harness.calls().await["token"], 2);
}

#[tokio::test]
async fn apply_then_drop_performs_the_write_but_loses_the_answer() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    harness.fault(json!({"endpoint": "events_insert", "kind": "apply_then_drop", "delay_ms": 50})).await;
    let mut lost = event("Lost answer");
    lost["id"] = json!("lost0reple0001");
    let error = harness.http.post(harness.url(EVENTS)).bearer_auth(&token).json(&lost).send().await.unwrap_err();
    assert!(!error.is_timeout(), "{error:?}");

    // The event exists, so a naive retry with the same id conflicts.
    let stored = harness.control_get(&format!("/_emulator/calendars/{DEMO}/events")).await;
    assert_eq!(stored.as_array().unwrap().len(), 1);
    assert_eq!(stored[0]["id"], "lost0reple0001");
    let retry = harness.api_send(Method::POST, &token, EVENTS, lost).await;
    assert_eq!(retry.status(), 409);
    assert_eq!(harness.calls().await["events_insert"], 2);
}

#[tokio::test]
async fn no_refresh_token_fault_omits_the_next_refresh_token() {
    let harness = start().await;
    harness.fault(json!({"endpoint": "token", "kind": "no_refresh_token"})).await;
    let first = harness.tokens_for(DEMO, CALENDAR).await;
    assert!(first.get("refresh_token").is_none(), "{first}");
    assert!(first["access_token"].is_string());
    let second = harness.tokens_for(DEMO, CALENDAR).await; // prompt=consent
    assert!(second["refresh_token"].is_string());
}

#[tokio::test]
async fn no_scope_fault_omits_the_scope_of_the_next_token_response() {
    let harness = start().await;
    harness.fault(json!({"endpoint": "token", "kind": "no_scope"})).await;
    let first = harness.tokens_for(DEMO, CALENDAR).await;
    assert!(first.get("scope").is_none(), "{first}");
    assert!(first["access_token"].is_string());
    let second = harness.tokens_for(DEMO, CALENDAR).await;
    assert!(second["scope"].as_str().unwrap().contains(CALENDAR), "{second}");
}

#[tokio::test]
async fn a_freebusy_calendar_fault_without_status_fails_only_that_calendar() {
    let harness = start().await;
    harness
        .control(
            "/_emulator/accounts",
            json!({"email": "sam@example.com", "calendars": [
                {"id": "sam@example.com", "primary": true},
                {"id": DEMO, "accessRole": "freeBusyReader"},
            ]}),
        )
        .await;
    let token = harness.access_token("sam@example.com", FREEBUSY).await;
    harness.fault(json!({"endpoint": "freebusy", "calendar_id": DEMO})).await;
    let response = harness.api_send(Method::POST, &token, FREEBUSY_PATH, freebusy_query(&["primary", DEMO])).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["calendars"]["primary"], json!({"busy": []}));
    assert_eq!(
        body["calendars"][DEMO],
        json!({"busy": [], "errors": [{"domain": "global", "reason": "backendError"}]})
    );
    let body: Value =
        harness.api_send(Method::POST, &token, FREEBUSY_PATH, freebusy_query(&[DEMO])).await.json().await.unwrap();
    assert_eq!(body["calendars"][DEMO], json!({"busy": []}));
}

#[tokio::test]
async fn a_calendar_filter_with_a_status_fails_only_requests_for_that_calendar() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    harness.fault(json!({"endpoint": "events_insert", "calendar_id": ALEX, "status": 500})).await;
    // `primary` resolves to demo's calendar, which the fault does not name.
    assert_eq!(harness.api_send(Method::POST, &token, EVENTS, event("a")).await.status(), 200);
    let alex = harness.access_token(ALEX, CALENDAR_EVENTS).await;
    let response = harness.api_send(Method::POST, &alex, EVENTS, event("b")).await;
    assert_eq!(response.status(), 500);
    assert_eq!(reason(&response.json().await.unwrap()), "backendError");
}

#[tokio::test]
async fn faults_can_be_listed_cleared_and_bad_specs_are_refused() {
    let harness = start().await;
    harness.fault(json!({"endpoint": "userinfo", "status": 500, "times": 3})).await;
    let listed = harness.control_get("/_emulator/faults").await;
    assert_eq!(listed[0]["endpoint"], "userinfo");
    assert_eq!(listed[0]["times"], 3);
    harness.http.delete(harness.url("/_emulator/faults")).send().await.unwrap();
    assert_eq!(harness.control_get("/_emulator/faults").await, json!([]));

    for bad in [
        json!({"endpoint": "nope", "status": 500}),
        json!({"endpoint": "token", "kind": "explode"}),
        json!({"endpoint": "token", "times": 0}),
        json!({"endpoint": "token", "stauts": 500}),
    ] {
        let response = harness.http.post(harness.url("/_emulator/faults")).json(&bad).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
}

#[tokio::test]
async fn every_request_is_counted_per_endpoint_and_counters_reset() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR).await;
    harness.api_get(&token, "/calendar/v3/users/me/calendarList").await;
    harness.api_get("ya29.bad", "/calendar/v3/users/me/calendarList").await;
    harness.api_get(&token, &format!("{EVENTS}/missing")).await;
    let calls = harness.calls().await;
    assert_eq!(calls["authorize_decision"], 1);
    assert_eq!(calls["token"], 1);
    assert_eq!(calls["calendar_list"], 2);
    assert_eq!(calls["events_get"], 1);
    assert!(calls.get("freebusy").is_none());

    harness.control("/_emulator/calls/reset", json!({})).await;
    assert_eq!(harness.calls().await, json!({}));
}

#[tokio::test]
async fn reset_returns_to_the_seed() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR).await;
    harness.api_send(Method::POST, &token, EVENTS, event("x")).await;
    harness
        .control(
            "/_emulator/clients",
            json!({"client_id": "temp", "client_secret": "s", "redirect_uris": ["http://127.0.0.1:1/cb"]}),
        )
        .await;
    harness.control("/_emulator/accounts", json!({"email": "temp@example.com"})).await;
    harness.fault(json!({"endpoint": "jwks", "status": 500})).await;

    harness.control("/_emulator/reset", json!({})).await;

    assert_eq!(harness.calls().await, json!({}));
    assert_eq!(
        harness.api_get(&token, "/calendar/v3/users/me/calendarList").await.status(),
        401,
        "tokens are forgotten"
    );
    assert_eq!(harness.control_get(&format!("/_emulator/calendars/{DEMO}/events")).await, json!([]));
    let tokens = harness.control_get("/_emulator/tokens").await;
    assert_eq!(tokens["access_tokens"], json!([]));
    assert_eq!(harness.control_get("/_emulator/faults").await, json!([]));
    let unknown_client = harness
        .http
        .get(harness.url("/o/oauth2/v2/auth"))
        .query(&[("client_id", "temp"), ("redirect_uri", "http://127.0.0.1:1/cb")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_client.status(), 400);
    let page = harness.authorize(&AuthRequest::new("openid").params()).await.text().await.unwrap();
    assert!(!page.contains("temp@example.com"));
    assert!(page.contains(DEMO));
}

#[tokio::test]
async fn registered_clients_and_seeded_accounts_take_part_in_the_flow() {
    let harness = start().await;
    let callback = "http://127.0.0.1:45678/callback";
    harness
        .control(
            "/_emulator/clients",
            json!({"client_id": "test-client", "client_secret": "test-secret", "redirect_uris": [callback]}),
        )
        .await;
    let account = harness.control("/_emulator/accounts", json!({"email": "kim@example.com", "name": "Kim"})).await;
    assert_eq!(account["calendars"][0]["id"], "kim@example.com");
    assert_eq!(account["calendars"][0]["primary"], true);

    let mut request = AuthRequest::new(&format!("openid email {CALENDAR}"));
    request.client_id = "test-client".into();
    request.redirect_uri = callback.into();
    let code = harness.approve(&request, "kim@example.com").await;
    let response = harness
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", callback),
            ("client_id", "test-client"),
            ("client_secret", "test-secret"),
            ("code_verifier", &request.pkce.as_ref().unwrap().verifier),
        ])
        .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let list: Value = harness
        .api_get(tokens["access_token"].as_str().unwrap(), "/calendar/v3/users/me/calendarList")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["id"], "kim@example.com");

    let bad_client = harness
        .http
        .post(harness.url("/_emulator/clients"))
        .json(&json!({"client_id": "x", "client_secret": "y", "redirect_uris": ["not a url"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_client.status(), 400);
}

#[tokio::test]
async fn the_tokens_report_lists_everything_issued() {
    let harness = start().await;
    let tokens = harness.tokens_for(DEMO, CALENDAR).await;
    let report = harness.control_get("/_emulator/tokens").await;
    assert_eq!(report["codes"][0]["account"], DEMO);
    assert_eq!(report["codes"][0]["used"], true);
    assert_eq!(report["access_tokens"][0]["token"], tokens["access_token"]);
    assert_eq!(report["access_tokens"][0]["scopes"], json!([CALENDAR]));
    assert_eq!(report["access_tokens"][0]["revoked"], false);
    assert!(report["access_tokens"][0]["expires_at"].is_string());
    assert_eq!(report["refresh_tokens"][0]["token"], tokens["refresh_token"]);
    assert_eq!(report["refresh_tokens"][0]["client_id"], CLIENT_ID);
    assert_eq!(report["revocations"], json!([]));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let harness = start().await;
    let url = harness.url("/oauth2/v3/certs");
    assert_eq!(harness.http.get(&url).send().await.unwrap().status(), 200);
    let Harness { emulator, .. } = harness;
    emulator.shutdown().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(&url).send().await.is_err());
}
