//! Gmail as a connection kind of its own: connected, shown and disconnected apart from the
//! Calendar (`google`) connection, with Google's grant-wide revocation respected when both
//! kinds share one OAuth client (the test app's setting).

mod support;

use calbridge::domain::{ConnectionKey, Provider, TenantId, UserId};
use calbridge::handlers::disconnect;
use calbridge::ports::ConnectionStore;
use serde_json::Value;
use support::*;

const GMAIL_SCOPES: &str =
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/gmail.send";

fn gmail_owner() -> ConnectionKey {
    ConnectionKey::new(TenantId::parse(TENANT).unwrap(), UserId::parse(USER).unwrap(), Provider::Gmail)
}

async fn on_kind(h: &Harness, file: &str, provider: &str) -> Value {
    let response =
        disconnect::handle(&h.app, request(&as_user(on_provider(event(file), provider), TENANT, USER))).await;
    assert_eq!(response.status(), 200, "{:?}", body_json(&response));
    body_json(&response)
}

#[tokio::test]
async fn gmail_connects_on_its_own_and_calendar_stays_not_connected() {
    let h = harness();
    let outcome = h.connect_gmail(GMAIL_SCOPES).await;
    assert_eq!(outcome["status"], "connected", "{outcome:?}");

    let gmail = on_kind(&h, "disconnect/status.json", "gmail").await;
    assert_eq!(gmail["provider"], "gmail");
    assert_eq!(gmail["status"], "connected");
    assert_eq!(gmail["email"], "dr.lee@example.com");
    assert!(gmail.get("google_account_id").is_none(), "the Google alias is Calendar's only");
    assert_eq!(h.status_as(TENANT, USER).await["status"], "not_connected");
    assert!(h.store.get_connection(&gmail_owner()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_gmail_grant_without_gmail_send_is_refused_and_revoked() {
    let h = harness();
    let outcome = h.connect_gmail("openid https://www.googleapis.com/auth/userinfo.email").await;
    assert_eq!(outcome["reason"], "insufficient_scope", "{outcome:?}");
    assert!(h.store.get_connection(&gmail_owner()).await.unwrap().is_none());
    assert_eq!(h.google.revoked().len(), 1, "nothing else holds the grant");
}

#[tokio::test]
async fn disconnecting_one_kind_keeps_the_shared_grant_until_the_last_kind_goes() {
    // given the same Google account connected as Calendar first, then as Gmail
    let h = harness();
    let calendar = h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    assert_eq!(redirect_outcome(&calendar).1["status"], "connected");
    assert_eq!(h.connect_gmail(GMAIL_SCOPES).await["status"], "connected");

    // when Gmail is disconnected
    let gone = on_kind(&h, "disconnect/delete.json", "gmail").await;

    // then Gmail is erased without revoking (Calendar holds the same grant) and Calendar is untouched
    assert_eq!(gone["disconnected"], true);
    assert_eq!(gone["revoked"], false);
    assert_eq!(gone["revoke_skipped_reason"], "grant_shared");
    assert!(h.google.revoked().is_empty());
    assert_eq!(on_kind(&h, "disconnect/status.json", "gmail").await["status"], "not_connected");
    assert_eq!(h.status_as(TENANT, USER).await["status"], "connected");

    // and when Calendar goes too, the grant is revoked at Google
    let gone = on_kind(&h, "disconnect/delete.json", "google").await;
    assert_eq!(gone["revoked"], true, "{gone:?}");
    assert_eq!(h.google.revoked().len(), 1);
}

#[tokio::test]
async fn disconnecting_calendar_leaves_gmail_connected() {
    let h = harness();
    assert_eq!(h.connect_gmail(GMAIL_SCOPES).await["status"], "connected");
    let calendar = h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    assert_eq!(redirect_outcome(&calendar).1["status"], "connected");

    let gone = on_kind(&h, "disconnect/delete.json", "google").await;
    assert_eq!(
        (gone["revoked"].as_bool(), gone["revoke_skipped_reason"].as_str()),
        (Some(false), Some("grant_shared"))
    );
    assert_eq!(on_kind(&h, "disconnect/status.json", "gmail").await["status"], "connected");
    assert_eq!(h.status_as(TENANT, USER).await["status"], "not_connected");
}
