//! End-to-end: connecting Zoom over HTTP through the local stack against the Zoom emulator
//! (authorize -> launch -> consent -> callback -> status -> disconnect with revocation), and
//! the refresh of Zoom's rotating refresh tokens against the emulator: one refresh for many
//! concurrent callers with the rotated token stored, and a lost refresh response ending in
//! `needs_reconnect` without a loop.

mod support;

use calbridge::crypto::tokens;
use calbridge::domain::{ConnectionKey, Provider, TenantId, UserId};
use calbridge::ports::WriteCondition;
use calbridge::usecases::access_tokens::{AccessError, NotUsable, access_token};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Stack, outcome, start};
use url::Url;

const DEMO_ZOOM_ID: &str = "EmuUserDemo0000000001a";

fn zoom(s: &Stack) -> &str {
    s.stack.zoom_emulator_url.as_deref().expect("the stack started the Zoom emulator")
}

async fn zoom_status(s: &Stack, token: &str) -> Value {
    let response = s.http.get(format!("{}/connections/zoom", s.base())).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// authorize -> launch page -> its "Continue" -> the Zoom emulator's consent page; the
/// consent URL and the browser-binding cookie.
async fn begin_zoom(s: &Stack, token: &str) -> (Url, String) {
    let response = s
        .http
        .post(format!("{}/connections/zoom/authorize", s.base()))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let launch_url = response.json::<Value>().await.unwrap()["launch_url"].as_str().unwrap().to_owned();
    assert!(launch_url.ends_with("/connections/zoom/launch") || launch_url.contains("/connections/zoom/launch?"));
    let page = s.http.get(&launch_url).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let html = page.text().await.unwrap();
    let form_token = html.split_once("name=\"form_token\" value=\"").unwrap().1.split('"').next().unwrap().to_owned();
    let launch = s
        .http
        .post(&launch_url)
        .header("cookie", format!("__Host-calbridge-oauth={cookie}"))
        .form(&[("form_token", form_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(launch.status(), StatusCode::SEE_OTHER);
    let url = Url::parse(launch.headers()["location"].to_str().unwrap()).unwrap();
    assert!(url.as_str().starts_with(&format!("{}/oauth/authorize?", zoom(s))), "launch must go to Zoom: {url}");
    let query = outcome(&url);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], format!("{}/connections/zoom/callback", s.base()));
    let page = s.http.get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the emulator shows its consent page");
    (url, cookie)
}

/// The whole connect flow for `account`, approving; the final redirect to the return URL.
async fn connect_zoom(s: &Stack, token: &str, account: &str) -> Url {
    let (consent, cookie) = begin_zoom(s, token).await;
    let mut form: Vec<(String, String)> = consent.query_pairs().into_owned().collect();
    form.push(("account".into(), account.into()));
    form.push(("decision".into(), "approve".into()));
    let decision = s.http.post(format!("{}/oauth/authorize/decision", zoom(s))).form(&form).send().await.unwrap();
    assert_eq!(decision.status(), StatusCode::FOUND);
    let callback = Url::parse(decision.headers()["location"].to_str().unwrap()).unwrap();
    assert!(callback.as_str().starts_with(&format!("{}/connections/zoom/callback?", s.base())), "{callback}");
    let response = s
        .http
        .get(callback)
        .header("accept", "text/html")
        .header("cookie", format!("__Host-calbridge-oauth={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

async fn zoom_get(s: &Stack, path: &str) -> Value {
    s.http.get(format!("{}/_emulator/{path}", zoom(s))).send().await.unwrap().json().await.unwrap()
}

async fn zoom_post(s: &Stack, path: &str, body: Value) {
    let response = s.http.post(format!("{}/_emulator/{path}", zoom(s))).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.text().await.unwrap());
}

async fn refresh_count(s: &Stack) -> u64 {
    zoom_get(s, "calls").await["counts"]["token_refresh"].as_u64().unwrap_or(0)
}

fn key(tenant: &str, user: &str) -> ConnectionKey {
    ConnectionKey::new(TenantId::parse(tenant).unwrap(), UserId::parse(user).unwrap(), Provider::Zoom)
}

/// Makes the stored access token look expired to calbridge (as an hour passing would), with
/// a versioned write as any writer makes.
async fn expire_stored_access_token(s: &Stack, owner: &ConnectionKey) {
    let app = s.stack.app();
    let record = app.connections.get_connection(owner).await.unwrap().expect("connected");
    let mut stored = tokens::open(&app.vault, owner, &record.sealed_tokens).await.unwrap();
    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1);
    stored.access_token_expires_at = Some(past);
    let sealed = tokens::seal(&app.vault, owner, &stored).await.unwrap();
    let updated = calbridge::ports::ConnectionRecord {
        version: record.version + 1,
        access_token_expires_at: Some(past),
        sealed_tokens: sealed,
        ..record.clone()
    };
    app.connections.put_connection(&updated, WriteCondition::Version(record.version)).await.unwrap();
}

/// The refresh token calbridge has stored for `owner`.
async fn stored_refresh_token(s: &Stack, owner: &ConnectionKey) -> String {
    let app = s.stack.app();
    let record = app.connections.get_connection(owner).await.unwrap().expect("connected");
    tokens::open(&app.vault, owner, &record.sealed_tokens).await.unwrap().refresh_token.secret().clone()
}

#[tokio::test]
async fn zoom_connect_refresh_once_and_disconnect_over_http() {
    // given a running stack (with the Zoom emulator) and an app user
    let s = start().await;
    let token = s.token("demo-tenant", "demo-user");
    assert_eq!(zoom_status(&s, &token).await, json!({"provider": "zoom", "status": "not_connected"}));

    // when the user connects their Zoom account demo@example.com
    let done = connect_zoom(&s, &token, "demo@example.com").await;

    // then the browser lands on the return URL, and the connection names the Zoom user
    assert_eq!(done.path(), "/_local/done");
    assert_eq!(outcome(&done)["status"], "connected");
    let status = zoom_status(&s, &token).await;
    assert_eq!(status["status"], "connected", "{status}");
    assert_eq!(status["email"], "demo@example.com");
    assert_eq!(status["account_id"], DEMO_ZOOM_ID);
    assert!(status.get("google_account_id").is_none(), "{status}");
    let scopes: Vec<&str> = status["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for scope in calbridge::config::DEFAULT_ZOOM_SCOPES.split(' ') {
        assert!(scopes.contains(&scope), "{scope} missing from {scopes:?}");
    }
    // and the Google connection is untouched
    assert_eq!(s.status(&token).await["status"], "not_connected");

    // when 20 callers need the Zoom token at once and the stored one has expired
    let owner = key("demo-tenant", "demo-user");
    let before = stored_refresh_token(&s, &owner).await;
    expire_stored_access_token(&s, &owner).await;
    zoom_post(&s, "calls/reset", json!({})).await;
    let app = s.stack.app();
    let results =
        futures_util::future::join_all((0..20).map(|_| async { access_token(app, &owner).await.map(|a| a.token) }))
            .await;

    // then Zoom saw exactly one refresh, every caller got the same new token, and the rotated
    // refresh token (the one Zoom still accepts) is the one stored
    assert_eq!(refresh_count(&s).await, 1, "{}", zoom_get(&s, "calls").await);
    let tokens: Vec<String> = results.into_iter().map(|r| r.expect("a token").secret().clone()).collect();
    assert!(tokens.iter().all(|t| t == &tokens[0]), "callers got different tokens");
    let stored = stored_refresh_token(&s, &owner).await;
    assert_ne!(stored, before, "the rotated refresh token was not stored");
    let issued = zoom_get(&s, "tokens").await;
    let refresh_tokens = issued["refresh_tokens"].as_array().unwrap();
    let live: Vec<&str> = refresh_tokens
        .iter()
        .filter(|t| t["revoked"] == false && t["rotated_to"].is_null())
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    assert_eq!(live, [stored.as_str()], "the stored refresh token is not Zoom's live one: {issued}");
    let old = refresh_tokens.iter().find(|t| t["token"] == before.as_str()).unwrap();
    assert!(!old["rotated_to"].is_null(), "the first refresh token was not rotated: {old}");
    assert_eq!(zoom_status(&s, &token).await["status"], "connected");

    // and the store file holds none of Zoom's tokens or codes in plaintext
    let raw = s.raw_store();
    for list in ["codes", "access_tokens", "refresh_tokens"] {
        for item in issued[list].as_array().unwrap() {
            let secret = item.get("token").or_else(|| item.get("code")).and_then(Value::as_str).unwrap();
            assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()), "a Zoom secret is stored in plaintext");
        }
    }

    // when the user disconnects Zoom
    let response = s.http.delete(format!("{}/connections/zoom", s.base())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["revoked"], true, "{body}");

    // then Zoom saw the grant revoked, and the connection is gone
    let issued = zoom_get(&s, "tokens").await;
    assert_eq!(issued["revocations"].as_array().unwrap().len(), 1, "{issued}");
    assert!(issued["refresh_tokens"].as_array().unwrap().iter().all(|t| t["revoked"] == true), "{issued}");
    assert_eq!(zoom_status(&s, &token).await, json!({"provider": "zoom", "status": "not_connected"}));
    s.stack.shutdown().await;
}

#[tokio::test]
async fn a_lost_refresh_response_ends_in_needs_reconnect_without_a_loop() {
    // given a connected Zoom user whose stored access token has expired
    let s = start().await;
    let token = s.token("t1", "u1");
    assert_eq!(outcome(&connect_zoom(&s, &token, "alex@example.com").await)["status"], "connected");
    let owner = key("t1", "u1");
    expire_stored_access_token(&s, &owner).await;
    zoom_post(&s, "calls/reset", json!({})).await;

    // when Zoom rotates the refresh token but the answer never arrives
    zoom_post(&s, "faults", json!({"endpoint": "token_refresh", "kind": "apply_then_drop"})).await;
    let app = s.stack.app();
    let first = access_token(app, &owner).await;

    // then that call fails, and the connection is kept with the failure recorded
    assert!(matches!(first, Err(AccessError::Refresh(_))), "{:?}", first.err());
    let status = zoom_status(&s, &token).await;
    assert_eq!(
        (status["status"].as_str(), status["last_error_code"].as_str()),
        (Some("connected"), Some("refresh_failed"))
    );

    // when the next caller refreshes with the stored (now dead) refresh token
    let second = access_token(app, &owner).await;

    // then Zoom refuses it and the connection needs reconnecting, saying why
    assert!(matches!(second, Err(AccessError::NotUsable(NotUsable::NeedsReconnect))), "{:?}", second.err());
    let status = zoom_status(&s, &token).await;
    assert_eq!(status["status"], "needs_reconnect", "{status}");
    assert_eq!(status["last_error_code"], "invalid_grant");
    let reason = status["last_error"].as_str().unwrap();
    assert!(reason.contains("Zoom refused the stored grant") && reason.contains("reconnect"), "{reason}");
    assert_eq!(refresh_count(&s).await, 2);

    // and further callers are told to reconnect without calling Zoom again (no loop)
    for _ in 0..3 {
        let again = access_token(app, &owner).await;
        assert!(matches!(again, Err(AccessError::NotUsable(NotUsable::NeedsReconnect))), "{:?}", again.err());
    }
    assert_eq!(refresh_count(&s).await, 2, "a needs_reconnect connection must not be refreshed again");

    // and reconnecting makes the connection usable again
    assert_eq!(outcome(&connect_zoom(&s, &token, "alex@example.com").await)["status"], "connected");
    let status = zoom_status(&s, &token).await;
    assert_eq!(status["status"], "connected");
    assert!(status.get("last_error").is_none(), "{status}");
    assert!(access_token(app, &owner).await.is_ok());
    s.stack.shutdown().await;
}
