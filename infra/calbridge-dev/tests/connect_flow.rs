//! End-to-end: the connect flow over HTTP through the local stack (API Gateway stand-in,
//! the real handlers, embedded store, local key) against the Google emulator.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::{outcome, start};

const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
const FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.events.freebusy";
const CALENDAR_LIST: &str = "https://www.googleapis.com/auth/calendar.calendarlist.readonly";

#[tokio::test]
async fn connect_status_disconnect_over_http() {
    // given a running stack and an app user
    let s = start().await;
    let token = s.token("demo-tenant", "demo-user");
    assert_eq!(s.status(&token).await["status"], "not_connected");

    // when the user connects demo@example.com, approving everything
    let done = s.connect(&token, "demo@example.com").await;

    // then the browser lands on the return URL with status=connected
    assert_eq!(done.path(), "/_local/done");
    assert_eq!(outcome(&done)["status"], "connected");
    let status = s.status(&token).await;
    assert_eq!(status["status"], "connected");
    assert_eq!(status["email"], "demo@example.com");
    assert_eq!(status["google_account_id"], "100000000000000000001");
    let scopes: Vec<&str> = status["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for scope in [CALENDAR_EVENTS, FREEBUSY, CALENDAR_LIST] {
        assert!(scopes.contains(&scope), "{scope} missing from {scopes:?}");
    }
    // and the store file holds no plaintext token or code
    let raw = s.raw_store();
    for secret in s.issued_secrets().await {
        assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()), "a Google secret is stored in plaintext");
    }

    // when the user disconnects
    assert_eq!(s.disconnect(&token).await, StatusCode::OK);
    // then the emulator saw the refresh token revoked, and the connection is gone
    let tokens = s.emulator_tokens().await;
    let refresh = tokens["refresh_tokens"].as_array().unwrap();
    assert_eq!(refresh.len(), 1);
    assert_eq!(refresh[0]["revoked"], true, "revocation not observed at the emulator: {tokens}");
    assert_eq!(s.status(&token).await, json!({"provider": "google", "status": "not_connected"}));
    assert_eq!(s.disconnect(&token).await, StatusCode::OK, "disconnect is idempotent");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn untrusted_callbacks_are_400_and_store_nothing() {
    let s = start().await;
    let token = s.token("t1", "u1");

    // Cross-browser: the consent finished in a browser without the binding cookie.
    let consent = s.begin(&token).await;
    let callback = s.decide(&consent, "demo@example.com", true, None).await;
    let response = s.callback(&callback, None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    // ...and the state is burned: the right browser cannot use it afterwards (replay).
    let replay = s.callback(&callback, Some(&consent.cookie)).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // Forged state.
    let consent = s.begin(&token).await;
    let callback = s.decide(&consent, "demo@example.com", true, None).await;
    let mut forged = callback.clone();
    let state = consent.state();
    let tampered = format!("{}x", &state[..state.len() - 1]);
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| (k.clone().into_owned(), if k == "state" { tampered.clone() } else { v.into_owned() }))
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    assert_eq!(s.callback(&forged, Some(&consent.cookie)).await.status(), StatusCode::BAD_REQUEST);

    // Replay after success.
    let consent = s.begin(&s.token("t1", "u2")).await;
    let callback = s.decide(&consent, "demo@example.com", true, None).await;
    assert_eq!(s.callback(&callback, Some(&consent.cookie)).await.status(), StatusCode::FOUND);
    assert_eq!(s.callback(&callback, Some(&consent.cookie)).await.status(), StatusCode::BAD_REQUEST);

    assert_eq!(s.status(&token).await["status"], "not_connected");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn trusted_failures_return_to_the_app_with_a_reason() {
    let s = start().await;
    let token = s.token("t1", "u1");

    // Denied consent.
    let consent = s.begin(&token).await;
    let callback = s.decide(&consent, "demo@example.com", false, None).await;
    let done = redirect(&s.callback(&callback, Some(&consent.cookie)).await);
    assert_eq!((outcome(&done)["status"].as_str(), outcome(&done)["reason"].as_str()), ("error", "access_denied"));

    // A required scope unticked on Google's granular consent screen.
    let consent = s.begin(&token).await;
    let callback = s.decide(&consent, "demo@example.com", true, Some(&["openid", "email", CALENDAR_EVENTS])).await;
    let done = redirect(&s.callback(&callback, Some(&consent.cookie)).await);
    assert_eq!(outcome(&done)["reason"], "insufficient_scope");

    // A response claiming another issuer (mix-up).
    let consent = s.begin(&token).await;
    let callback = s.decide(&consent, "demo@example.com", true, None).await;
    let mut wrong_iss = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            (k.clone().into_owned(), if k == "iss" { "https://evil.example".to_owned() } else { v.into_owned() })
        })
        .collect();
    wrong_iss.query_pairs_mut().clear().extend_pairs(pairs);
    let done = redirect(&s.callback(&wrong_iss, Some(&consent.cookie)).await);
    assert_eq!(outcome(&done)["reason"], "invalid_issuer");

    // A code injected from another flow: the victim's state and cookie with the attacker's code.
    let victim = s.begin(&token).await;
    let victim_callback = s.decide(&victim, "demo@example.com", true, None).await;
    let attacker = s.begin(&s.token("t1", "attacker")).await;
    let attacker_callback = s.decide(&attacker, "alex@example.com", true, None).await;
    let attacker_code = attacker_callback.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let mut injected = victim_callback.clone();
    let pairs: Vec<(String, String)> = victim_callback
        .query_pairs()
        .map(|(k, v)| (k.clone().into_owned(), if k == "code" { attacker_code.clone() } else { v.into_owned() }))
        .collect();
    injected.query_pairs_mut().clear().extend_pairs(pairs);
    let done = redirect(&s.callback(&injected, Some(&victim.cookie)).await);
    assert_eq!(outcome(&done)["reason"], "exchange_failed", "PKCE must stop an injected code");

    // Google's token response without its `scope` field: nothing counts as granted.
    s.control("faults", json!({"endpoint": "token", "kind": "no_scope"})).await;
    let consent = s.begin(&token).await;
    let callback = s.decide(&consent, "demo@example.com", true, None).await;
    let done = redirect(&s.callback(&callback, Some(&consent.cookie)).await);
    assert_eq!(outcome(&done)["reason"], "insufficient_scope");

    assert_eq!(s.status(&token).await["status"], "not_connected");
    assert_eq!(s.status(&s.token("t1", "attacker")).await["status"], "not_connected");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn a_callback_with_a_repeated_parameter_is_400_and_spends_nothing() {
    let s = start().await;
    let token = s.token("t1", "u1");
    let consent = s.begin(&token).await;
    let callback = s.decide(&consent, "demo@example.com", true, None).await;
    for name in ["state", "code", "iss"] {
        let value = callback.query_pairs().find(|(k, _)| k == name).unwrap().1.into_owned();
        let mut repeated = callback.clone();
        repeated.query_pairs_mut().append_pair(name, &value);
        let response = s.callback(&repeated, Some(&consent.cookie)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(response.headers().get("location").is_none());
        assert!(response.text().await.unwrap().contains("invalid_callback"), "{name}");
    }
    assert_eq!(s.call_count("token").await, 0, "no code exchanged");
    // The genuine callback still completes: nothing was burned.
    let done = redirect(&s.callback(&callback, Some(&consent.cookie)).await);
    assert_eq!(outcome(&done)["status"], "connected");
    s.stack.shutdown().await;
}

fn redirect(response: &reqwest::Response) -> url::Url {
    assert_eq!(response.status(), StatusCode::FOUND);
    url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

#[tokio::test]
async fn return_to_tricks_are_refused() {
    let s = start().await;
    let token = s.token("t1", "u1");
    for trick in [
        "//evil.example",
        &format!("{}.evil.example/_local/done", s.base()),
        "javascript:alert(1)",
        &format!("{}/_local/done%2f..%2f..%2fevil", s.base()),
        &url::form_urlencoded::byte_serialize(format!("{}/_local/done", s.base()).as_bytes()).collect::<String>(),
    ] {
        let response = s.authorize(&token, json!({ "return_to": trick })).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{trick}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_return_to");
    }
    let allowed = s.authorize(&token, json!({ "return_to": "calbridge-demo://connected" })).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn the_gateway_stand_in_authorizes_like_api_gateway() {
    let s = start().await;
    let url = format!("{}/connections/google", s.base());
    let anonymous = s.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json::<serde_json::Value>().await.unwrap(), json!({"message": "Unauthorized"}));
    let forged = s.http.get(&url).bearer_auth("eyJhbGciOiJIUzI1NiJ9.e30.bad").send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);

    let minted: serde_json::Value = s
        .http
        .post(format!("{}/_local/token", s.base()))
        .json(&json!({"tenant_id": "t9", "user_id": "u9"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["token"].as_str().unwrap();
    assert_eq!(s.status(token).await["status"], "not_connected");
    let missing = s.http.get(format!("{}/nope", s.base())).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    s.stack.shutdown().await;
}
