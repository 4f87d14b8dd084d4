//! The service's admin view (function disconnect): listing the tenant's connections page by
//! page, offboarding a user, and the `last_used_at` / `last_error` the status and the listing
//! show. Driven by the sample events with the fakes, as the other handler tests.

mod support;

use calbridge::domain::ScopeSet;
use calbridge::fakes::FakeConsent;
use calbridge::handlers::{disconnect, list_calendars};
use calbridge::ports::{CalendarEntry, OAuthError, ProviderAccount};
use jiff::SignedDuration;
use lambda_http::{Body, Response};
use serde_json::Value;
use support::*;

const OTHER_TENANT: &str = "other-clinic";

/// A consent for its own Google account (so no grant is shared between users).
fn own_account(user: &str) -> FakeConsent {
    FakeConsent {
        account: ProviderAccount {
            id: format!("acct-{user}"),
            email: Some(format!("{user}@example.com")),
            organisation_id: None,
        },
        granted_scopes: ScopeSet::parse(ALL_SCOPES),
        issue_refresh_token: true,
    }
}

async fn connect(h: &Harness, tenant: &str, user: &str) {
    let response = h.connect_as(tenant, user, own_account(user)).await;
    assert_eq!(redirect_outcome(&response).1.get("status").map(String::as_str), Some("connected"));
}

async fn list_as_service(h: &Harness, tenant: &str, query: &str) -> Response<Body> {
    disconnect::handle(&h.app, request(&with_query(as_service(event("disconnect/list.json"), tenant), query))).await
}

/// Every page of the tenant's listing (with `query`), following `next_cursor`.
async fn all_pages(h: &Harness, tenant: &str, query: &str) -> Vec<Value> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{query}&cursor={}", urlencode(c)),
            None => query.to_owned(),
        };
        let response = list_as_service(h, tenant, &q).await;
        assert_eq!(response.status(), 200, "{:?}", body_json(&response));
        let body = body_json(&response);
        listed.extend(body["connections"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return listed,
        }
    }
}

fn users(listed: &[Value]) -> Vec<String> {
    listed.iter().map(|c| c["user_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn paging_yields_each_of_the_tenants_connections_once_and_no_other_tenants() {
    // given five users of the tenant and two of another
    let h = harness();
    let mine = ["u-a", "u-b", "u-c", "u-d", "u-e"];
    for user in mine {
        connect(&h, TENANT, user).await;
    }
    for user in ["u-a", "u-z"] {
        connect(&h, OTHER_TENANT, user).await;
    }
    // when the service pages through two at a time
    let listed = all_pages(&h, TENANT, "limit=2").await;
    // then each appears exactly once, in order, with what the app shows and no secret
    assert_eq!(users(&listed), mine);
    let first = &listed[0];
    assert_eq!(first["provider"], "google");
    assert_eq!(first["status"], "connected");
    assert_eq!(first["email"], "u-a@example.com");
    assert!(first["scopes"].as_array().unwrap().len() >= 4);
    assert!(first["connected_at"].is_string());
    let text = serde_json::to_string(&listed).unwrap();
    for secret in ["ya29.", "1//fake", "tokens_", "lease"] {
        assert!(!text.contains(secret), "the listing shows {secret}: {text}");
    }
    // and the default page holds them all
    let body = body_json(&list_as_service(&h, TENANT, "").await);
    assert_eq!(body["connections"].as_array().unwrap().len(), 5);
    assert!(body.get("next_cursor").is_none());
    // and the other tenant sees only its own
    assert_eq!(users(&all_pages(&h, OTHER_TENANT, "limit=1").await), ["u-a", "u-z"]);
}

#[tokio::test]
async fn filters_limits_and_cursors_are_checked() {
    let h = harness();
    for user in ["u-a", "u-b", "u-c"] {
        connect(&h, TENANT, user).await;
    }
    h.clock.advance(SignedDuration::from_mins(56));
    h.google.fail_next_refresh(OAuthError::InvalidGrant);
    let calendars =
        list_calendars::handle(&h.app, request(&as_user(event("list-calendars/list.json"), TENANT, "u-b"))).await;
    assert_eq!(error_code(&calendars), "needs_reconnect");

    assert_eq!(users(&all_pages(&h, TENANT, "status=needs_reconnect").await), ["u-b"]);
    assert_eq!(users(&all_pages(&h, TENANT, "status=connected&provider=google&limit=1").await), ["u-a", "u-c"]);
    for (query, status, code) in [
        ("limit=0", 400, "invalid_request"),
        ("limit=101", 400, "invalid_request"),
        ("limit=ten", 400, "invalid_request"),
        ("status=broken", 400, "invalid_request"),
        ("limit=1&limit=2", 400, "invalid_request"),
        ("provider=outlook", 404, "unknown_provider"),
        ("cursor=not-a-cursor", 400, "invalid_cursor"),
    ] {
        let response = list_as_service(&h, TENANT, query).await;
        assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (status, code), "{query}");
    }
    // A cursor of one tenant's listing is refused by another's, and a tampered one by both.
    let page = body_json(&list_as_service(&h, TENANT, "limit=1").await);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let foreign = list_as_service(&h, OTHER_TENANT, &format!("cursor={}", urlencode(&cursor))).await;
    assert_eq!((foreign.status().as_u16(), error_code(&foreign).as_str()), (400, "invalid_cursor"));
    let mut tampered = cursor.clone();
    let last = if tampered.pop() == Some('A') { 'B' } else { 'A' };
    tampered.push(last);
    let response = list_as_service(&h, TENANT, &format!("cursor={}", urlencode(&tampered))).await;
    assert_eq!(response.status(), 400, "{:?}", body_json(&response));
}

#[tokio::test]
async fn users_may_neither_list_nor_offboard() {
    let h = harness();
    connect(&h, TENANT, USER).await;
    for name in ["disconnect/list.json", "disconnect/offboard.json"] {
        let response = disconnect::handle(&h.app, request(&as_user(event(name), TENANT, USER))).await;
        assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (403, "forbidden"), "{name}");
    }
    assert!(h.stored(TENANT, USER).await);
    assert!(h.google.revoked().is_empty());
}

#[tokio::test]
async fn offboarding_revokes_and_erases_like_a_disconnect() {
    let h = harness();
    connect(&h, TENANT, USER).await;
    connect(&h, TENANT, "u-keep").await;
    let offboard = || disconnect::handle(&h.app, request(&as_service(event("disconnect/offboard.json"), TENANT)));
    let response = offboard().await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response), serde_json::json!({"disconnected": true, "revoked": true}));
    assert!(!h.stored(TENANT, USER).await);
    assert_eq!(h.google.revoked().len(), 1);
    assert_eq!(users(&all_pages(&h, TENANT, "").await), ["u-keep"]);
    // Again: nothing left to revoke.
    let again = body_json(&offboard().await);
    assert_eq!(again["revoke_skipped_reason"], "not_connected");
}

async fn calendars(h: &Harness) -> u16 {
    list_calendars::handle(&h.app, request(&as_user(event("list-calendars/list.json"), TENANT, USER)))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn last_used_at_follows_use_at_most_every_fifteen_minutes() {
    let h = harness();
    connect(&h, TENANT, USER).await;
    let entry = CalendarEntry {
        id: "primary-cal".into(),
        summary: "me".into(),
        primary: true,
        access_role: "owner".into(),
        time_zone: None,
    };
    h.calendar.set_calendars(&format!("acct-{USER}"), vec![entry]);
    assert!(h.status_as(TENANT, USER).await.get("last_used_at").is_none(), "not used yet");

    assert_eq!(calendars(&h).await, 200);
    let first = h.stored_record(TENANT, USER).await;
    assert_eq!(first.last_used_at, Some(calbridge::ports::Clock::now(h.clock.as_ref())));
    // Used again within the granularity: nothing is written.
    h.clock.advance(SignedDuration::from_mins(10));
    assert_eq!(calendars(&h).await, 200);
    assert_eq!(h.stored_record(TENANT, USER).await, first, "no write within 15 minutes");
    // Past it: recorded again, without a version bump (a refresh cannot lose to it).
    h.clock.advance(SignedDuration::from_mins(6));
    assert_eq!(calendars(&h).await, 200);
    let second = h.stored_record(TENANT, USER).await;
    assert_eq!(second.version, first.version);
    assert_eq!(second.last_used_at, Some(calbridge::ports::Clock::now(h.clock.as_ref())));
    let status = h.status_as(TENANT, USER).await;
    let listed = all_pages(&h, TENANT, "").await;
    assert_eq!(status["last_used_at"], listed[0]["last_used_at"]);
    assert!(status["last_used_at"].is_string());
}

#[tokio::test]
async fn last_error_is_set_by_failed_refreshes_and_cleared_by_a_good_one_or_a_reconnect() {
    let h = harness();
    connect(&h, TENANT, USER).await;
    h.calendar.set_calendars(&format!("acct-{USER}"), vec![]);
    // A refresh that fails for a passing reason: usable, but the app can tell.
    h.clock.advance(SignedDuration::from_mins(56));
    h.google.fail_next_refresh(OAuthError::Unavailable("connection reset by peer: secret-body".into()));
    assert_eq!(calendars(&h).await, 503);
    let status = h.status_as(TENANT, USER).await;
    assert_eq!(
        (status["status"].as_str(), status["last_error_code"].as_str()),
        (Some("connected"), Some("refresh_failed"))
    );
    assert!(!status["last_error"].as_str().unwrap().contains("secret-body"), "no provider text in last_error");
    // The next refresh succeeds: cleared.
    assert_eq!(calendars(&h).await, 200);
    assert!(h.status_as(TENANT, USER).await.get("last_error").is_none());
    // The grant refused: needs reconnect, with a presentable reason, in status and listing.
    h.clock.advance(SignedDuration::from_mins(56));
    h.google.fail_next_refresh(OAuthError::InvalidGrant);
    assert_eq!(calendars(&h).await, 409);
    let listed = all_pages(&h, TENANT, "").await;
    assert_eq!(
        (listed[0]["status"].as_str(), listed[0]["last_error_code"].as_str()),
        (Some("needs_reconnect"), Some("invalid_grant"))
    );
    // Reconnecting clears it.
    connect(&h, TENANT, USER).await;
    let status = h.status_as(TENANT, USER).await;
    assert_eq!(status["status"], "connected");
    assert!(status.get("last_error").is_none() && status.get("last_error_code").is_none());
}
