//! create-meet on fakes, driven by `events/create-meet/`: one Meet per session however many
//! calls, who may read it, attached links, pending and failed conferences.

mod support;

use calbridge::handlers::create_meet;
use calbridge::ports::CalendarEntry;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use support::*;

const CALENDAR: &str = "dr.lee@example.com";

async fn connected() -> Harness {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    h.calendar.set_calendars(
        "1180000001",
        vec![CalendarEntry {
            id: CALENDAR.into(),
            summary: CALENDAR.into(),
            primary: true,
            access_role: "owner".into(),
            time_zone: None,
        }],
    );
    h
}

async fn call(h: &Harness, event: Value) -> Response<Body> {
    create_meet::handle(&h.app, request(&event)).await
}

fn meet_event(name: &str) -> Value {
    event(&format!("create-meet/{name}.json"))
}

fn with_body(mut event: Value, patch: Value) -> Value {
    let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    for (k, v) in patch.as_object().unwrap() {
        body[k] = v.clone();
    }
    event["body"] = body.to_string().into();
    event
}

#[tokio::test]
async fn a_meet_is_created_once_and_returned_again() {
    let h = connected().await;
    let first = call(&h, meet_event("create")).await;
    assert_eq!(first.status(), 201, "{:?}", body_json(&first));
    let view = body_json(&first);
    assert_eq!(view["provider"], "google_meet");
    assert!(view["meeting_url"].as_str().unwrap().starts_with("https://meet.google.com/"));
    assert_eq!(view["host_user_id"], USER);
    assert_eq!(view["participant_user_ids"], json!(["client-31"]));
    let events = h.calendar.events(CALENDAR);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, view["calendar_event_id"].as_str().unwrap());

    let again = call(&h, meet_event("create")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(body_json(&again), view);
    assert_eq!(h.calendar.events(CALENDAR).len(), 1);
}

#[tokio::test]
async fn concurrent_creates_make_one_meet() {
    let h = connected().await;
    h.calendar.set_conference_pending_reads(1);
    let calls = (0..5).map(|_| call(&h, meet_event("create")));
    let responses = futures_util::future::join_all(calls).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 4, "{statuses:?}");
    let urls: Vec<Value> = responses.iter().map(|r| body_json(r)["meeting_url"].clone()).collect();
    assert!(urls.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(h.calendar.events(CALENDAR).len(), 1);
}

#[tokio::test]
async fn host_and_participants_read_it_everyone_else_gets_404() {
    let h = connected().await;
    call(&h, meet_event("create")).await;
    assert_eq!(call(&h, meet_event("get")).await.status(), 200);
    assert_eq!(call(&h, as_user(meet_event("get"), TENANT, "client-31")).await.status(), 200);
    for (tenant, user) in [(TENANT, "stranger"), ("other-clinic", "client-31"), ("other-clinic", USER)] {
        let response = call(&h, as_user(meet_event("get"), tenant, user)).await;
        assert_eq!(response.status(), 404, "{tenant}/{user}");
        assert_eq!(error_code(&response), "not_found");
    }
    // A session nobody created looks the same.
    let mut missing = meet_event("get");
    missing["pathParameters"]["session_id"] = "s-none".into();
    assert_eq!(call(&h, missing).await.status(), 404);
    // Only the host deletes; a participant's delete changes nothing.
    assert_eq!(call(&h, as_user(meet_event("delete"), TENANT, "client-31")).await.status(), 404);
    assert_eq!(call(&h, meet_event("delete")).await.status(), 204);
    assert_eq!(h.calendar.events(CALENDAR)[0].status, "cancelled", "the Google event calbridge created is deleted");
    assert_eq!(call(&h, meet_event("get")).await.status(), 404);
}

#[tokio::test]
async fn existing_links_are_attached_without_google_and_validated() {
    let h = harness(); // the host never connected Google
    for (url, provider) in [
        ("https://meet.google.com/abc-defg-hij", "google_meet"),
        ("https://us02web.zoom.us/j/81234567890?pwd=abc", "zoom"),
        ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc", "teams"),
        ("https://teams.live.com/meet/9312345", "teams"),
    ] {
        let mut e = with_body(meet_event("attach-zoom"), json!({ "existing_url": url }));
        e["pathParameters"]["session_id"] = format!("s-{}", url.len()).into();
        let response = call(&h, e).await;
        assert_eq!(response.status(), 201, "{url}");
        assert_eq!(body_json(&response)["provider"], provider);
        assert_eq!(body_json(&response)["meeting_url"], url);
    }
    for url in [
        "http://meet.google.com/abc-defg-hij",
        "javascript:alert(document.cookie)",
        "https://meet.google.com.evil.example/abc",
        "https://user:secret@zoom.us/j/1",
        "https://evil.example/zoom.us",
    ] {
        let mut e = with_body(meet_event("attach-zoom"), json!({ "existing_url": url }));
        e["pathParameters"]["session_id"] = "tricks".into();
        let response = call(&h, e).await;
        assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (400, "invalid_meeting_url"), "{url}");
    }
    let response = call(&h, meet_event("create")).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (409, "not_connected"));
}

#[tokio::test]
async fn a_pending_conference_is_polled_until_ready() {
    let h = connected().await;
    h.calendar.set_conference_pending_reads(2);
    let response = call(&h, meet_event("create")).await;
    assert_eq!(response.status(), 201);
    assert!(body_json(&response)["conference_id"].as_str().unwrap().starts_with("fak-meet-"));
}

#[tokio::test]
async fn a_failed_conference_is_502_and_leaves_nothing_behind() {
    let h = connected().await;
    h.calendar.fail_next_conference();
    let response = call(&h, meet_event("create")).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (502, "meet_creation_failed"));
    assert_eq!(call(&h, meet_event("get")).await.status(), 404);
    assert!(h.calendar.events(CALENDAR).iter().all(|e| e.status == "cancelled"), "no event without a working link");
    // A retry starts clean and succeeds.
    assert_eq!(call(&h, meet_event("create")).await.status(), 201);
}

#[tokio::test]
async fn bad_bodies_are_400() {
    let h = connected().await;
    for (patch, code) in [
        (json!({"end": "2026-12-03T14:00:00Z"}), "invalid_time_range"),
        (json!({"time_zone": "Nowhere/Land"}), "unknown_time_zone"),
        (json!({"attendee_emails": ["not-an-email"]}), "invalid_request"),
        (json!({"participant_user_ids": ["a#b"]}), "invalid_request"),
        (json!({"surprise": true}), "invalid_request"),
    ] {
        let response = call(&h, with_body(meet_event("create"), patch.clone())).await;
        assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (400, code), "{patch}");
    }
}

/// The session id a client could guess, attacked as in issue 12.
fn as_client_attaching(link: &str) -> Value {
    let e = with_body(meet_event("attach-zoom"), json!({ "existing_url": link, "host_user_id": null }));
    as_user(e, TENANT, "client-31")
}

#[tokio::test]
async fn users_cannot_create_meetings_unless_the_deployment_allows_it() {
    let h = connected().await;
    let response = call(&h, as_client_attaching("https://zoom.us/j/999")).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (403, "forbidden"));
    // Nothing was written: the real host's create goes through.
    assert_eq!(call(&h, meet_event("create")).await.status(), 201);
    // The service may not forget whom it acts for, and a user may not name another host.
    let response = call(&h, with_body(meet_event("create"), json!({ "host_user_id": null }))).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (400, "user_required"));
    let mut h = h;
    h.app.settings.meet.allow_user_meetings = true;
    let e = with_body(as_user(meet_event("attach-zoom"), TENANT, "client-31"), json!({ "host_user_id": USER }));
    assert_eq!(call(&h, e).await.status(), 403);
}

#[tokio::test]
async fn a_meeting_the_service_makes_replaces_what_a_user_attached() {
    let mut h = connected().await;
    h.app.settings.meet.allow_user_meetings = true;
    // A client who guessed the session id gets there first, as its host.
    let response = call(&h, as_client_attaching("https://zoom.us/j/999")).await;
    assert_eq!(response.status(), 201);
    assert_eq!(body_json(&response)["host_user_id"], "client-31");
    // The real host is not locked out: the service's create replaces it.
    let response = call(&h, meet_event("create")).await;
    assert_eq!(response.status(), 201, "{:?}", body_json(&response));
    let view = body_json(&response);
    assert_eq!(view["host_user_id"], USER);
    assert_eq!(view["provider"], "google_meet");
    assert_eq!(call(&h, meet_event("get")).await.status(), 200);
    // The client is a participant here and reads the real link, not their own.
    let read = call(&h, as_user(meet_event("get"), TENANT, "client-31")).await;
    assert_eq!(body_json(&read)["meeting_url"], view["meeting_url"]);
    // And cannot replace it back: for them the session's meeting belongs to someone else.
    let response = call(&h, as_client_attaching("https://zoom.us/j/999")).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_service_reads_deletes_and_resets_and_hosts_do_not_collide() {
    let h = connected().await;
    let first = body_json(&call(&h, meet_event("create")).await);
    let get = as_service(meet_event("get"), TENANT);
    assert_eq!(body_json(&call(&h, get.clone()).await), first);
    // Another host for the same session is a conflict unless the service resets it.
    let other = with_body(meet_event("attach-zoom"), json!({ "host_user_id": "dr-kim" }));
    let response = call(&h, other.clone()).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (409, "meeting_exists"));
    let reset = with_body(other, json!({ "reset": true }));
    let response = call(&h, reset.clone()).await;
    assert_eq!(response.status(), 201);
    assert_eq!(body_json(&response)["host_user_id"], "dr-kim");
    assert_eq!(h.calendar.events(CALENDAR)[0].status, "cancelled", "the replaced Meet's event is deleted");
    // Users may not reset.
    let mut h = h;
    h.app.settings.meet.allow_user_meetings = true;
    let response = call(&h, as_user(with_body(reset, json!({ "host_user_id": null })), TENANT, "dr-kim")).await;
    assert_eq!(response.status(), 403);
    // The service deletes; then the session has nothing.
    assert_eq!(call(&h, as_service(meet_event("delete"), TENANT)).await.status(), 204);
    assert_eq!(call(&h, get).await.status(), 404);
    // Another tenant's service sees nothing of it.
    call(&h, meet_event("create")).await;
    assert_eq!(call(&h, as_service(meet_event("get"), "other-clinic")).await.status(), 404);
    assert_eq!(call(&h, as_service(meet_event("delete"), "other-clinic")).await.status(), 404);
}

#[tokio::test]
async fn posting_new_times_moves_the_meet_and_keeps_its_conference() {
    // given a session's Meet
    let h = connected().await;
    let first = body_json(&call(&h, meet_event("create")).await);

    // when the service posts the session again at another time
    let moved = call(
        &h,
        with_body(meet_event("create"), json!({"start": "2030-01-08T09:00:00Z", "end": "2030-01-08T10:00:00Z"})),
    )
    .await;

    // then the same event is moved, its conference untouched
    assert_eq!(moved.status(), 200, "{:?}", body_json(&moved));
    let moved = body_json(&moved);
    assert_eq!(
        (moved["start"].as_str(), moved["end"].as_str()),
        (Some("2030-01-08T09:00:00Z"), Some("2030-01-08T10:00:00Z"))
    );
    assert_eq!(moved["meeting_url"], first["meeting_url"]);
    assert_eq!(moved["calendar_event_id"], first["calendar_event_id"]);
    let events = h.calendar.events(CALENDAR);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].start, Some("2030-01-08T09:00:00Z".parse().unwrap()));
    assert_eq!(events[0].end, Some("2030-01-08T10:00:00Z".parse().unwrap()));
    assert!(matches!(events[0].conference, Some(calbridge::ports::ConferenceState::Ready { .. })));

    // and posting the same times again changes nothing
    let calls = h.calendar.calls();
    let again = call(
        &h,
        with_body(meet_event("create"), json!({"start": "2030-01-08T09:00:00Z", "end": "2030-01-08T10:00:00Z"})),
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(h.calendar.calls(), calls, "nothing moved, nothing sent to Google");
}

#[tokio::test]
async fn a_zoom_meeting_where_zoom_is_not_offered_is_a_clear_400() {
    let h = connected().await;
    let response = call(&h, with_body(meet_event("create"), json!({"provider": "zoom"}))).await;
    assert_eq!(response.status(), 400);
    assert_eq!(body_json(&response)["error"]["code"], "unknown_provider");
    let response = call(&h, with_body(meet_event("create"), json!({"provider": "webex"}))).await;
    assert_eq!(response.status(), 400);
    assert_eq!(body_json(&response)["error"]["code"], "invalid_request");
    assert!(
        h.app
            .meetings
            .get_meeting(
                &calbridge::domain::TenantId::parse(TENANT).unwrap(),
                &calbridge::domain::SessionId::parse("s-77").unwrap()
            )
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_host_without_google_is_told_which_provider_is_missing() {
    let h = harness();
    let response = call(&h, meet_event("create")).await;
    assert_eq!(response.status(), 409);
    let body = body_json(&response);
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["provider"].as_str()),
        (Some("not_connected"), Some("google"))
    );
}
