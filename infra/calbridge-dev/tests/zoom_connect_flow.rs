//! End-to-end: connecting Zoom over HTTP through the local stack against the Zoom emulator
//! (authorize -> launch -> consent -> callback -> status -> disconnect with revocation), and
//! the refresh of Zoom's rotating refresh tokens against the emulator: one refresh for many
//! concurrent callers with the rotated token stored, and a lost refresh response ending in
//! `needs_reconnect` without a loop.

mod support;

use calbridge::crypto::tokens;
use calbridge::domain::{ConnectionKey, Provider, TenantId, UserId};
use calbridge::usecases::access_tokens::{AccessError, NotUsable, access_token};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Stack, outcome, start};

const DEMO_ZOOM_ID: &str = "EmuUserDemo0000000001a";

async fn refresh_count(s: &Stack) -> u64 {
    s.zoom_get("calls").await["counts"]["token_refresh"].as_u64().unwrap_or(0)
}

fn key(tenant: &str, user: &str) -> ConnectionKey {
    ConnectionKey::new(TenantId::parse(tenant).unwrap(), UserId::parse(user).unwrap(), Provider::Zoom)
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
    assert_eq!(s.zoom_status(&token).await, json!({"provider": "zoom", "status": "not_connected"}));

    // when the user connects their Zoom account demo@example.com
    let done = s.connect_zoom(&token, "demo@example.com").await;

    // then the browser lands on the return URL, and the connection names the Zoom user
    assert_eq!(done.path(), "/_local/done");
    assert_eq!(outcome(&done)["status"], "connected");
    let status = s.zoom_status(&token).await;
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
    s.expire_zoom_access_token(&owner).await;
    s.zoom_post("calls/reset", json!({})).await;
    let app = s.stack.app();
    let results =
        futures_util::future::join_all((0..20).map(|_| async { access_token(app, &owner).await.map(|a| a.token) }))
            .await;

    // then Zoom saw exactly one refresh, every caller got the same new token, and the rotated
    // refresh token (the one Zoom still accepts) is the one stored
    assert_eq!(refresh_count(&s).await, 1, "{}", s.zoom_get("calls").await);
    let tokens: Vec<String> = results.into_iter().map(|r| r.expect("a token").secret().clone()).collect();
    assert!(tokens.iter().all(|t| t == &tokens[0]), "callers got different tokens");
    let stored = stored_refresh_token(&s, &owner).await;
    assert_ne!(stored, before, "the rotated refresh token was not stored");
    let issued = s.zoom_get("tokens").await;
    let refresh_tokens = issued["refresh_tokens"].as_array().unwrap();
    let live: Vec<&str> = refresh_tokens
        .iter()
        .filter(|t| t["revoked"] == false && t["rotated_to"].is_null())
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    assert_eq!(live, [stored.as_str()], "the stored refresh token is not Zoom's live one: {issued}");
    let old = refresh_tokens.iter().find(|t| t["token"] == before.as_str()).unwrap();
    assert!(!old["rotated_to"].is_null(), "the first refresh token was not rotated: {old}");
    assert_eq!(s.zoom_status(&token).await["status"], "connected");

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
    let issued = s.zoom_get("tokens").await;
    assert_eq!(issued["revocations"].as_array().unwrap().len(), 1, "{issued}");
    assert!(issued["refresh_tokens"].as_array().unwrap().iter().all(|t| t["revoked"] == true), "{issued}");
    assert_eq!(s.zoom_status(&token).await, json!({"provider": "zoom", "status": "not_connected"}));
    s.stack.shutdown().await;
}

#[tokio::test]
async fn a_lost_refresh_response_ends_in_needs_reconnect_without_a_loop() {
    // given a connected Zoom user whose stored access token has expired
    let s = start().await;
    let token = s.token("t1", "u1");
    assert_eq!(outcome(&s.connect_zoom(&token, "alex@example.com").await)["status"], "connected");
    let owner = key("t1", "u1");
    s.expire_zoom_access_token(&owner).await;
    s.zoom_post("calls/reset", json!({})).await;

    // when Zoom rotates the refresh token but the answer never arrives
    s.zoom_post("faults", json!({"endpoint": "token_refresh", "kind": "apply_then_drop"})).await;
    let app = s.stack.app();
    let first = access_token(app, &owner).await;

    // then that call fails, and the connection is kept with the failure recorded
    assert!(matches!(first, Err(AccessError::Refresh(_))), "{:?}", first.err());
    let status = s.zoom_status(&token).await;
    assert_eq!(
        (status["status"].as_str(), status["last_error_code"].as_str()),
        (Some("connected"), Some("refresh_failed"))
    );

    // when the next caller refreshes with the stored (now dead) refresh token
    let second = access_token(app, &owner).await;

    // then Zoom refuses it and the connection needs reconnecting, saying why
    assert!(matches!(second, Err(AccessError::NotUsable(NotUsable::NeedsReconnect))), "{:?}", second.err());
    let status = s.zoom_status(&token).await;
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
    assert_eq!(outcome(&s.connect_zoom(&token, "alex@example.com").await)["status"], "connected");
    let status = s.zoom_status(&token).await;
    assert_eq!(status["status"], "connected");
    assert!(status.get("last_error").is_none(), "{status}");
    assert!(access_token(app, &owner).await.is_ok());
    s.stack.shutdown().await;
}
