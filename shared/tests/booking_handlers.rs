//! Handler tests for booking links (`POST /booking-links`, `DELETE /booking-links/{id}`,
//! `GET /booking/{token}/slots`) through the real get-availability handler, driven by
//! `events/get-availability/booking-*.json` with fake Google, the embedded store and a manual
//! clock. Given / when / then.

mod support;

use std::sync::atomic::Ordering;

use calbridge::domain::{Interval, ScopeSet};
use calbridge::fakes::FakeConsent;
use calbridge::handlers::get_availability;
use calbridge::ports::{CalendarEntry, ProviderAccount};
use jiff::{SignedDuration, Timestamp};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use support::*;

const SUBJECT: &str = "1180000001";
const COLLEAGUE: &str = "user-91bc";
const COLLEAGUE_SUBJECT: &str = "1180000002";

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn busy(start: &str, end: &str) -> Interval {
    Interval::new(at(start), at(end)).unwrap()
}

fn entry(id: &str) -> CalendarEntry {
    CalendarEntry {
        id: id.to_owned(),
        summary: id.to_owned(),
        primary: true,
        access_role: "owner".to_owned(),
        time_zone: Some("America/New_York".to_owned()),
    }
}

/// Given two connected users of TENANT with busy time on Wednesday 2 December (New York):
/// the user 09:00-09:30, the colleague 10:30-11:00; it is 1 December.
async fn two_connected_users() -> Harness {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    h.calendar.set_calendars(SUBJECT, vec![entry("dr.lee@example.com")]);
    let colleague = FakeConsent {
        account: ProviderAccount {
            id: COLLEAGUE_SUBJECT.into(),
            email: Some("sam@example.com".into()),
            organisation_id: None,
        },
        granted_scopes: ScopeSet::parse(ALL_SCOPES),
        issue_refresh_token: true,
    };
    h.connect_as(TENANT, COLLEAGUE, colleague).await;
    h.calendar.set_calendars(COLLEAGUE_SUBJECT, vec![entry("sam@example.com")]);
    h.calendar.add_busy(SUBJECT, "dr.lee@example.com", busy("2026-12-02T14:00:00Z", "2026-12-02T14:30:00Z"));
    h.calendar.add_busy(COLLEAGUE_SUBJECT, "sam@example.com", busy("2026-12-02T15:30:00Z", "2026-12-02T16:00:00Z"));
    h.clock_to("2026-12-01T00:00:00Z");
    h
}

/// The sample mint body (both users, the first week of December, New York working hours with
/// a 10:00-11:00 extra_busy on 2 December), changed by `change`.
fn mint_event(change: impl FnOnce(&mut Value)) -> Value {
    let mut e = event("get-availability/booking-mint.json");
    let mut body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
    change(&mut body);
    e["body"] = body.to_string().into();
    e
}

async fn send(h: &Harness, e: Value) -> Response<Body> {
    get_availability::handle(&h.app, request(&e)).await
}

/// Mints the sample link as the service; returns the 201 body.
async fn mint_as_service(h: &Harness) -> Value {
    let response = send(h, as_service(mint_event(|_| {}), TENANT)).await;
    assert_eq!(response.status(), 201, "{:?}", body_json(&response));
    body_json(&response)
}

/// `GET /booking/{token}/slots` without any JWT, with `query` as the query string.
async fn slots(h: &Harness, token: &str, query: &str) -> Response<Body> {
    let mut e = with_query(event("get-availability/booking-slots.json"), query);
    let path = format!("/booking/{}/slots", urlencode(token));
    e["rawPath"] = path.clone().into();
    e["requestContext"]["http"]["path"] = path.into();
    e["pathParameters"]["token"] = token.into();
    assert!(e["requestContext"].get("authorizer").is_none(), "the public route carries no JWT");
    send(h, e).await
}

async fn revoke(h: &Harness, e: Value, id: &str) -> Response<Body> {
    let mut e = e;
    let path = format!("/booking-links/{id}");
    e["rawPath"] = path.clone().into();
    e["requestContext"]["http"]["path"] = path.into();
    e["pathParameters"]["id"] = id.into();
    send(h, e).await
}

const WEDNESDAY_MORNING: &str = "time_min=2026-12-02T14%3A00%3A00Z&time_max=2026-12-02T17%3A00%3A00Z";

fn starts(body: &Value) -> Vec<String> {
    body["slots"].as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_service_mints_a_link_whose_slots_are_served_without_a_jwt() {
    // given two connected users
    let h = two_connected_users().await;

    // when the service mints a link
    let minted = mint_as_service(&h).await;

    // then it answers id, url, token and expires_at, the url naming the token
    let token = minted["token"].as_str().unwrap();
    assert_eq!(minted["url"], format!("https://api.calbridge.example/booking/{token}/slots"));
    assert_eq!(minted["expires_at"], "2026-12-08T00:00:00Z");
    assert!(!minted["id"].as_str().unwrap().is_empty());
    assert!(token.len() < 160, "the token is compact: {} characters", token.len());

    // and the link holder, with no JWT, gets the slots everyone is free for
    let response = slots(&h, token, WEDNESDAY_MORNING).await;
    assert_eq!(response.status(), 200, "{:?}", body_json(&response));
    let body = body_json(&response);
    assert_eq!(starts(&body), ["2026-12-02T16:00:00Z", "2026-12-02T16:15:00Z", "2026-12-02T16:30:00Z"]);
    assert!(body["slots"].as_array().unwrap().iter().all(|s| s["user_ids"] == json!([USER, COLLEAGUE])));

    // and nothing but slots: no busy time, connection state, calendar ids or emails
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["slots"]);
    let raw = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    for leak in ["busy", "unavailable", "dr.lee@example.com", "sam@example.com", "calendar", "connected"] {
        assert!(!raw.contains(leak), "{leak} in {raw}");
    }
}

#[tokio::test]
async fn without_a_range_the_whole_window_is_served_and_users_who_cannot_be_read_fail_closed() {
    // given a link for the user and someone who never connected
    let h = two_connected_users().await;
    let minted = send(&h, as_service(mint_event(|b| b["user_ids"] = json!([USER, "never-connected"])), TENANT)).await;
    assert_eq!(minted.status(), 201);
    let token = body_json(&minted)["token"].as_str().unwrap().to_owned();

    // when the holder asks without a range, then mode all offers nothing, and says nothing
    // about who is not connected
    let response = slots(&h, &token, "").await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response), json!({ "slots": [] }));
}

#[tokio::test]
async fn a_range_outside_the_links_window_is_400() {
    let h = two_connected_users().await;
    let token = mint_as_service(&h).await["token"].as_str().unwrap().to_owned();
    let calls = h.calendar.freebusy_calls.load(Ordering::SeqCst);
    for query in [
        "time_min=2026-11-30T00%3A00%3A00Z&time_max=2026-12-02T00%3A00%3A00Z",
        "time_min=2026-12-07T00%3A00%3A00Z&time_max=2026-12-09T00%3A00%3A00Z",
        "time_max=2026-12-09T00%3A00%3A00Z",
    ] {
        let response = slots(&h, &token, query).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(error_code(&response), "outside_booking_window", "{query}");
    }
    let reversed = slots(&h, &token, "time_min=2026-12-03T00%3A00%3A00Z&time_max=2026-12-02T00%3A00%3A00Z").await;
    assert_eq!(error_code(&reversed), "invalid_time_range");
    let garbage = slots(&h, &token, "time_min=yesterday").await;
    assert_eq!((garbage.status().as_u16(), error_code(&garbage)), (400, "invalid_request".to_owned()));
    assert_eq!(h.calendar.freebusy_calls.load(Ordering::SeqCst), calls, "no Google call for a refused range");
}

#[tokio::test]
async fn a_revoked_link_is_410_and_only_its_tenant_can_revoke_it() {
    // given a minted link
    let h = two_connected_users().await;
    let minted = mint_as_service(&h).await;
    let (id, token) = (minted["id"].as_str().unwrap(), minted["token"].as_str().unwrap());
    let revoke_event = event("get-availability/booking-revoke.json");

    // when another tenant's service revokes it, then it is unknown there
    let other = revoke(&h, as_service(revoke_event.clone(), "other-clinic"), id).await;
    assert_eq!((other.status().as_u16(), error_code(&other)), (404, "not_found".to_owned()));
    assert_eq!(slots(&h, token, WEDNESDAY_MORNING).await.status(), 200, "still live");

    // when a user of the tenant who did not mint it revokes it, then that is refused
    let user = revoke(&h, as_user(revoke_event.clone(), TENANT, USER), id).await;
    assert_eq!(user.status(), 403);

    // when its own service revokes it, then 204, and the link answers 410 with no Google call
    assert_eq!(revoke(&h, as_service(revoke_event.clone(), TENANT), id).await.status(), 204);
    let calls = h.calendar.freebusy_calls.load(Ordering::SeqCst);
    let response = slots(&h, token, WEDNESDAY_MORNING).await;
    assert_eq!((response.status().as_u16(), error_code(&response)), (410, "booking_link_revoked".to_owned()));
    assert_eq!(h.calendar.freebusy_calls.load(Ordering::SeqCst), calls);

    // and revoking again is fine, an unknown id is 404
    assert_eq!(revoke(&h, as_service(revoke_event.clone(), TENANT), id).await.status(), 204);
    assert_eq!(revoke(&h, as_service(revoke_event, TENANT), "AAAAAAAAAAAAAAAAAAAAAA").await.status(), 404);
}

#[tokio::test]
async fn an_expired_link_is_410() {
    let h = two_connected_users().await;
    let token = mint_as_service(&h).await["token"].as_str().unwrap().to_owned();
    // when the clock passes expires_at (2026-12-08T00:00:00Z)
    h.clock_to("2026-12-08T00:00:00Z");
    let calls = h.calendar.freebusy_calls.load(Ordering::SeqCst);
    let response = slots(&h, &token, "").await;
    assert_eq!((response.status().as_u16(), error_code(&response)), (410, "booking_link_expired".to_owned()));
    assert_eq!(h.calendar.freebusy_calls.load(Ordering::SeqCst), calls, "refused before any Google call");
}

#[tokio::test]
async fn a_tampered_or_foreign_token_is_401() {
    let h = two_connected_users().await;
    let token = mint_as_service(&h).await["token"].as_str().unwrap().to_owned();
    let (payload, tag) = token.split_once('.').unwrap();
    let flipped_tag = format!("{payload}.{}{}", if tag.starts_with('A') { "B" } else { "A" }, &tag[1..]);
    let calls = h.calendar.freebusy_calls.load(Ordering::SeqCst);
    for bad in [flipped_tag, format!("{payload}x.{tag}"), token[..token.len() - 3].to_owned(), "garbage".to_owned()] {
        let response = slots(&h, &bad, WEDNESDAY_MORNING).await;
        assert_eq!(response.status(), 401, "{bad}");
        assert_eq!(error_code(&response), "invalid_booking_link", "{bad}");
        assert!(!String::from_utf8_lossy(response.body().as_ref()).contains(&bad), "the token is not echoed");
    }
    assert_eq!(h.calendar.freebusy_calls.load(Ordering::SeqCst), calls);
}

#[tokio::test]
async fn a_user_mints_for_themselves_only_and_may_revoke_their_own_links() {
    let h = two_connected_users().await;
    // when a user mints for themselves and a colleague, then 403 and nothing is stored
    let both = send(&h, as_user(mint_event(|_| {}), TENANT, USER)).await;
    assert_eq!((both.status().as_u16(), error_code(&both)), (403, "forbidden".to_owned()));

    // when a user mints for themselves, then 201, and the link serves their slots
    let own = send(&h, as_user(mint_event(|b| b["user_ids"] = json!([USER])), TENANT, USER)).await;
    assert_eq!(own.status(), 201, "{:?}", body_json(&own));
    let own = body_json(&own);
    let served = body_json(&slots(&h, own["token"].as_str().unwrap(), WEDNESDAY_MORNING).await);
    // 09:00 is the user's busy time, 09:30 and 09:45 run into extra_busy with the buffer.
    assert_eq!(starts(&served), ["2026-12-02T16:00:00Z", "2026-12-02T16:15:00Z", "2026-12-02T16:30:00Z"]);
    assert!(served["slots"].as_array().unwrap().iter().all(|s| s["user_ids"] == json!([USER])));

    // and a colleague may not revoke it, the user may
    let revoke_event = event("get-availability/booking-revoke.json");
    let id = own["id"].as_str().unwrap();
    assert_eq!(revoke(&h, as_user(revoke_event.clone(), TENANT, COLLEAGUE), id).await.status(), 403);
    assert_eq!(revoke(&h, as_user(revoke_event, TENANT, USER), id).await.status(), 204);
}

#[tokio::test]
async fn minting_validates_users_window_rules_and_expiry() {
    let h = two_connected_users().await;
    let many: Vec<String> = (0..51).map(|i| format!("user-{i}")).collect();
    type Change = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|b| b["user_ids"] = json!([])), "invalid_request"),
        (Box::new(move |b| b["user_ids"] = json!(many)), "too_many_users"),
        (Box::new(|b| b["user_ids"] = json!(["has space"])), "invalid_request"),
        (Box::new(|b| b["time_max"] = "2026-11-30T00:00:00Z".into()), "invalid_time_range"),
        (Box::new(|b| b["time_max"] = "2027-02-15T00:00:00Z".into()), "time_range_too_long"),
        (Box::new(|b| b["slots"]["duration_minutes"] = 0.into()), "invalid_duration"),
        (Box::new(|b| b["slots"]["time_zone"] = "Mars/Olympus".into()), "unknown_time_zone"),
        // The limits of /availability's slot rules hold for a link's rules too.
        (Box::new(|b| b["slots"]["step_minutes"] = 1.into()), "invalid_step"),
        (Box::new(|b| b["slots"]["buffer_after_minutes"] = 52_560_000.into()), "buffer_too_long"),
        (Box::new(|b| b["slots"]["minimum_notice_minutes"] = 200_000.into()), "notice_too_long"),
        (Box::new(|b| b["expires_at"] = "2026-11-30T00:00:00Z".into()), "invalid_expires_at"),
        (Box::new(|b| b["expires_at"] = "2027-03-02T00:00:00Z".into()), "invalid_expires_at"),
        (Box::new(|b| b["calendar_ids"] = json!({})), "invalid_request"),
    ];
    for (change, code) in cases {
        let response = send(&h, as_service(mint_event(change), TENANT)).await;
        assert_eq!((response.status().as_u16(), error_code(&response)), (400, code.to_owned()));
    }
    // 90 days exactly is allowed, and expiry and window are independent.
    let later = calbridge::ports::Clock::now(h.clock.as_ref()) + SignedDuration::from_hours(90 * 24);
    let response = send(&h, as_service(mint_event(|b| b["expires_at"] = later.to_string().into()), TENANT)).await;
    assert_eq!(response.status(), 201, "{:?}", body_json(&response));

    // and minting needs a JWT
    let mut anonymous = mint_event(|_| {});
    anonymous["requestContext"].as_object_mut().unwrap().remove("authorizer");
    assert_eq!(send(&h, anonymous).await.status(), 401);
}
