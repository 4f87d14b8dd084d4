//! create-meet with `provider: zoom` on fakes, driven by `events/create-meet/`: who gets the
//! start link, one Zoom meeting when a create's answer is lost, Zoom's limits as 429, a move,
//! and a connection that ended. The same over real HTTP against the Zoom emulator is
//! `infra/calbridge-dev/tests/zoom_meeting_flow.rs`.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use calbridge::app::OAuthProvider;
use calbridge::crypto::tokens::{self, StoredTokens};
use calbridge::domain::{ConnectionKey, Provider, ScopeSet, TenantId, UserId};
use calbridge::fakes::{FakeGoogle, FakeZoomMeetings};
use calbridge::handlers::create_meet;
use calbridge::ports::{ConnectionRecord, ConnectionStatus, WriteCondition, ZoomApiError};
use jiff::SignedDuration;
use lambda_http::{Body, Response};
use oauth2::{AccessToken, RefreshToken};
use serde_json::{Value, json};
use support::*;
use url::Url;

const PARTICIPANT: &str = "client-31";

/// A harness offering Zoom, with `USER` connected to Zoom account `zoom-user-1`.
async fn zoom_harness() -> (Harness, Arc<FakeZoomMeetings>) {
    let mut h = harness();
    let oauth = Arc::new(FakeGoogle::with_clock(h.clock.clone()));
    h.app.providers.insert(
        Provider::Zoom,
        OAuthProvider {
            client: oauth,
            launch_url: Url::parse("https://api.calbridge.example/connections/zoom/launch").unwrap(),
            required_scopes: ScopeSet::parse("meeting:write:meeting"),
            issuer: None,
            display_name: "Zoom",
            consent_origin: "https://zoom.us".to_owned(),
            grant_shared_with: vec![Provider::Zoom],
        },
    );
    let zoom = Arc::new(FakeZoomMeetings::new());
    h.app.zoom_meetings = Some(zoom.clone());
    connect_zoom(&h, USER, "zoom-user-1").await;
    (h, zoom)
}

/// Stores a Zoom connection for `user` with an access token good for an hour.
async fn connect_zoom(h: &Harness, user: &str, account: &str) {
    let key = ConnectionKey::new(TenantId::parse(TENANT).unwrap(), UserId::parse(user).unwrap(), Provider::Zoom);
    let now = calbridge::ports::Clock::now(h.clock.as_ref());
    let expires = now + SignedDuration::from_hours(1);
    let stored = StoredTokens {
        access_token: AccessToken::new(format!("zoom-access-{user}")),
        refresh_token: RefreshToken::new(format!("zoom-refresh-{user}")),
        access_token_expires_at: Some(expires),
    };
    let sealed = tokens::seal(&h.app.vault, &key, &stored).await.unwrap();
    let record = ConnectionRecord {
        key,
        version: 1,
        status: ConnectionStatus::Connected,
        account_id: account.to_owned(),
        organisation_id: None,
        email: Some(format!("{user}@example.com")),
        scopes: vec!["meeting:write:meeting".to_owned()],
        connected_at: now,
        updated_at: now,
        last_error: None,
        last_used_at: Some(now),
        access_token_expires_at: Some(expires),
        selected_calendar_id: None,
        refresh_lease_until: None,
        sealed_tokens: sealed,
    };
    h.app.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
}

fn zoom_create() -> Value {
    let mut event = event("create-meet/create.json");
    let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    body["provider"] = json!("zoom");
    event["body"] = body.to_string().into();
    event
}

async fn call(h: &Harness, event: Value) -> Response<Body> {
    create_meet::handle(&h.app, request(&event)).await
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

#[tokio::test]
async fn only_the_host_gets_a_start_link_and_no_other_answer_carries_one() {
    // given a session whose Zoom meeting the service made
    let (h, zoom) = zoom_harness().await;
    let created = call(&h, zoom_create()).await;
    assert_eq!(created.status(), 201, "{}", text(&created));
    let spec = &zoom.meetings()[0].spec;
    assert_eq!(spec.topic, "Session", "titles stay out of Zoom unless allowed");
    assert!(spec.waiting_room);
    assert_eq!(spec.duration_minutes, 50);
    assert_eq!(spec.time_zone.as_deref(), Some("America/Chicago"));

    // when everyone asks for the start link and for the meeting
    let start = event("create-meet/start.json");
    let get = event("create-meet/get.json");
    let host = call(&h, as_user(start.clone(), TENANT, USER)).await;
    let service = call(&h, as_service(start.clone(), TENANT)).await;
    let participant = call(&h, as_user(start.clone(), TENANT, PARTICIPANT)).await;
    let stranger = call(&h, as_user(start.clone(), TENANT, "someone")).await;
    let other_tenant = call(&h, as_service(start, "other-clinic")).await;

    // then only the host gets one, fresh from Zoom
    assert_eq!(host.status(), 200);
    assert!(body_json(&host)["start_url"].as_str().unwrap().contains("zak="));
    assert_eq!(zoom.reads.load(Ordering::SeqCst), 1);
    assert_eq!(
        [service.status(), participant.status(), stranger.status(), other_tenant.status()].map(|s| s.as_u16()),
        [403, 404, 404, 404]
    );
    let views = [
        created,
        call(&h, as_user(get.clone(), TENANT, PARTICIPANT)).await,
        call(&h, as_service(get.clone(), TENANT)).await,
        call(&h, as_user(get, TENANT, USER)).await,
        service,
        participant,
    ];
    for view in &views {
        let body = text(view);
        assert!(!body.contains("zak") && !body.contains("start_url"), "{body}");
    }
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_found_by_its_marker_not_made_twice() {
    let (h, zoom) = zoom_harness().await;
    zoom.lose_next_create_answer();

    let response = call(&h, zoom_create()).await;

    assert_eq!(response.status(), 201, "{}", text(&response));
    assert_eq!(zoom.meetings().len(), 1);
    assert_eq!(zoom.lists.load(Ordering::SeqCst), 1);
    assert_eq!(body_json(&response)["conference_id"], zoom.meetings()[0].id.as_str());
    assert!(zoom.meetings()[0].spec.marker.starts_with("calbridge-ref:"));
}

#[tokio::test]
async fn zooms_limits_are_429_with_retry_after_and_release_the_claim() {
    let (h, zoom) = zoom_harness().await;
    let now = calbridge::ports::Clock::now(h.clock.as_ref());
    zoom.fail_next([ZoomApiError::RateLimited { retry_after: Some(now + SignedDuration::from_mins(90)), daily: true }]);

    let response = call(&h, zoom_create()).await;

    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "5400");
    let body = body_json(&response);
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["provider"].as_str()),
        (Some("zoom_rate_limited"), Some("zoom"))
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("daily limit"));
    // nothing is left behind: the next call creates
    assert_eq!(call(&h, zoom_create()).await.status(), 201);
    assert_eq!(zoom.meetings().len(), 1);
}

#[tokio::test]
async fn zoom_refusing_or_failing_is_a_clear_502_or_503() {
    let (h, zoom) = zoom_harness().await;
    zoom.fail_next([ZoomApiError::Rejected { status: 400, code: 300 }]);
    let refused = call(&h, zoom_create()).await;
    assert_eq!((refused.status().as_u16(), error_code(&refused)), (502, "zoom_error".to_owned()));
    zoom.fail_next([ZoomApiError::Unavailable("down".into()), ZoomApiError::Unavailable("down".into())]);
    let down = call(&h, zoom_create()).await;
    assert_eq!((down.status().as_u16(), error_code(&down)), (503, "temporarily_unavailable".to_owned()));
    assert!(down.headers().contains_key("retry-after"));
    assert!(zoom.meetings().is_empty());
}

#[tokio::test]
async fn new_times_move_the_zoom_meeting_and_a_delete_deletes_it_at_zoom() {
    let (h, zoom) = zoom_harness().await;
    assert_eq!(call(&h, zoom_create()).await.status(), 201);
    let mut moved = zoom_create();
    let mut body: Value = serde_json::from_str(moved["body"].as_str().unwrap()).unwrap();
    body["start"] = json!("2026-12-04T15:00:00Z");
    body["end"] = json!("2026-12-04T16:00:00Z");
    moved["body"] = body.to_string().into();

    let response = call(&h, moved).await;

    assert_eq!(response.status(), 200, "{}", text(&response));
    assert_eq!(body_json(&response)["start"], "2026-12-04T15:00:00Z");
    assert_eq!(zoom.updates.load(Ordering::SeqCst), 1);
    let meeting = &zoom.meetings()[0];
    assert_eq!((meeting.spec.start.to_string().as_str(), meeting.spec.duration_minutes), ("2026-12-04T15:00:00Z", 60));
    let deleted = call(&h, as_service(event("create-meet/delete.json"), TENANT)).await;
    assert_eq!(deleted.status(), 204);
    assert!(zoom.meetings()[0].deleted);
}

#[tokio::test]
async fn a_meeting_whose_connection_ended_says_so_and_has_no_start_link() {
    let (h, zoom) = zoom_harness().await;
    assert_eq!(call(&h, zoom_create()).await.status(), 201);
    // the host reconnects another Zoom account: the old grant cannot see the meeting
    let key = ConnectionKey::new(TenantId::parse(TENANT).unwrap(), UserId::parse(USER).unwrap(), Provider::Zoom);
    assert!(h.app.connections.delete_connection(&key).await.unwrap());
    connect_zoom(&h, USER, "zoom-user-2").await;

    let view = call(&h, as_user(event("create-meet/get.json"), TENANT, PARTICIPANT)).await;
    assert_eq!(body_json(&view)["link_status"], "host_connection_ended");
    let start = call(&h, as_user(event("create-meet/start.json"), TENANT, USER)).await;
    assert_eq!((start.status().as_u16(), error_code(&start)), (409, "host_connection_ended".to_owned()));
    assert_eq!(zoom.reads.load(Ordering::SeqCst), 0, "no call with another account's grant");
}
