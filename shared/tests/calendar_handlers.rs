//! Handler tests for list-calendars and get-availability, driven by `events/` with fake
//! Google OAuth and Calendar, the embedded store and a manual clock. Given / when / then.

mod support;

use std::sync::atomic::Ordering;

use calbridge::domain::{Interval, ScopeSet};
use calbridge::fakes::FakeConsent;
use calbridge::handlers::{get_availability, list_calendars};
use calbridge::ports::{CalendarEntry, GoogleApiError, OAuthError, ProviderAccount};
use jiff::{SignedDuration, Timestamp};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use support::*;

const SUBJECT: &str = "1180000001";
const COLLEAGUE: &str = "user-91bc";
const COLLEAGUE_SUBJECT: &str = "1180000002";

fn entry(id: &str, role: &str, primary: bool) -> CalendarEntry {
    CalendarEntry {
        id: id.to_owned(),
        summary: id.to_owned(),
        primary,
        access_role: role.to_owned(),
        time_zone: Some("America/New_York".to_owned()),
    }
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn busy(start: &str, end: &str) -> Interval {
    Interval::new(at(start), at(end)).unwrap()
}

/// The caller (and optionally the colleague) connected, with calendars at the fake.
async fn connected(with_colleague: bool) -> Harness {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    h.calendar.set_calendars(
        SUBJECT,
        vec![
            entry("dr.lee@example.com", "owner", true),
            entry("c_clinic@group.calendar.google.com", "writer", false),
            entry("en.usa#holiday@group.v.calendar.google.com", "reader", false),
        ],
    );
    if with_colleague {
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
        h.calendar.set_calendars(COLLEAGUE_SUBJECT, vec![entry("sam@example.com", "owner", true)]);
    }
    h
}

async fn list(h: &Harness) -> Response<Body> {
    list_calendars::handle(&h.app, request(&event("list-calendars/list.json"))).await
}

async fn select(h: &Harness, calendar_id: &str) -> Response<Body> {
    let mut e = event("list-calendars/select.json");
    e["body"] = json!({ "calendar_id": calendar_id }).to_string().into();
    list_calendars::handle(&h.app, request(&e)).await
}

async fn availability(h: &Harness, body: Value) -> Response<Body> {
    let mut e = event("get-availability/busy.json");
    e["body"] = body.to_string().into();
    get_availability::handle(&h.app, request(&e)).await
}

fn week() -> Value {
    json!({ "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-08T00:00:00Z" })
}

#[tokio::test]
async fn not_connected_users_get_409() {
    let h = harness();
    let response = list(&h).await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(&response), "not_connected");
    assert_eq!(select(&h, "primary").await.status(), 409);
}

#[tokio::test]
async fn lists_calendars_with_primary_selected_until_another_is_chosen() {
    // given a connected user
    let h = connected(false).await;
    // when the app lists calendars
    let response = list(&h).await;
    // then every calendar is there and the primary one is selected
    assert_eq!(response.status(), 200);
    let body = body_json(&response);
    let calendars = body["calendars"].as_array().unwrap();
    assert_eq!(calendars.len(), 3);
    assert_eq!(
        calendars[0],
        json!({"id": "dr.lee@example.com", "summary": "dr.lee@example.com", "primary": true, "access_role": "owner", "time_zone": "America/New_York", "selected": true})
    );
    assert!(calendars[1..].iter().all(|c| c["selected"] == false));

    // when a writable calendar is selected
    let response = select(&h, "c_clinic@group.calendar.google.com").await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response)["selected"]["id"], "c_clinic@group.calendar.google.com");
    // then the list marks it, and only it
    let body = body_json(&list(&h).await);
    let selected: Vec<&str> = body["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["selected"] == true)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(selected, ["c_clinic@group.calendar.google.com"]);
}

#[tokio::test]
async fn only_writable_listed_calendars_can_be_selected() {
    let h = connected(false).await;
    let read_only = select(&h, "en.usa#holiday@group.v.calendar.google.com").await;
    assert_eq!((read_only.status().as_u16(), error_code(&read_only).as_str()), (400, "calendar_not_writable"));
    let unknown = select(&h, "someone-else@example.com").await;
    assert_eq!((unknown.status().as_u16(), error_code(&unknown).as_str()), (404, "calendar_not_found"));
    let empty = select(&h, " ").await;
    assert_eq!(empty.status(), 400);
    let mut no_body = event("list-calendars/select.json");
    no_body["body"] = "{}".into();
    assert_eq!(list_calendars::handle(&h.app, request(&no_body)).await.status(), 400);
}

#[tokio::test]
async fn busy_is_merged_sorted_and_clipped_for_the_caller() {
    let h = connected(false).await;
    h.calendar.add_busy(SUBJECT, "dr.lee@example.com", busy("2026-12-02T15:00:00Z", "2026-12-02T16:00:00Z"));
    h.calendar.add_busy(SUBJECT, "dr.lee@example.com", busy("2026-12-02T15:30:00Z", "2026-12-02T17:00:00Z"));
    h.calendar.add_busy(SUBJECT, "dr.lee@example.com", busy("2026-11-30T23:00:00Z", "2026-12-01T01:00:00Z"));
    let response = get_availability::handle(&h.app, request(&event("get-availability/busy.json"))).await;
    assert_eq!(response.status(), 200);
    let body = body_json(&response);
    assert_eq!(
        body["busy"][USER],
        json!([
            {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T01:00:00Z"},
            {"start": "2026-12-02T15:00:00Z", "end": "2026-12-02T17:00:00Z"},
        ])
    );
    assert_eq!(body["unavailable"], json!({}));
    assert!(body.get("slots").is_none());
    assert_eq!(h.calendar.freebusy_calls.load(Ordering::SeqCst), 1, "one FreeBusy call per user and window");
}

#[tokio::test]
async fn bad_requests_get_clear_400s() {
    let h = connected(false).await;
    let slots = |patch: Value| {
        let mut body = json!({"time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-08T00:00:00Z", "slots": {
            "duration_minutes": 30, "time_zone": "America/New_York",
            "working_hours": [{"days": ["mon"], "start": "09:00", "end": "17:00"}]}});
        for (k, v) in patch.as_object().unwrap() {
            body["slots"][k] = v.clone();
        }
        body
    };
    let many: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    for (body, code) in [
        (json!({"time_min": "2026-12-08T00:00:00Z", "time_max": "2026-12-01T00:00:00Z"}), "invalid_time_range"),
        (json!({"time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-01T00:00:00Z"}), "invalid_time_range"),
        (json!({"time_min": "2026-12-01T00:00:00Z", "time_max": "2027-02-02T00:00:00Z"}), "time_range_too_long"),
        (
            json!({"user_ids": many, "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-02T00:00:00Z"}),
            "too_many_users",
        ),
        (json!({"time_min": "yesterday", "time_max": "2026-12-02T00:00:00Z"}), "invalid_request"),
        (json!({"time_min": "2026-12-01T00:00:00Z"}), "invalid_request"),
        (slots(json!({"time_zone": "Mars/Olympus_Mons"})), "unknown_time_zone"),
        (slots(json!({"duration_minutes": 0})), "invalid_duration"),
        (slots(json!({"duration_minutes": -30})), "invalid_duration"),
        (
            slots(json!({"working_hours": [{"days": ["mon"], "start": "17:00", "end": "09:00"}]})),
            "invalid_working_hours",
        ),
        (
            slots(json!({"working_hours": [{"days": ["funday"], "start": "09:00", "end": "17:00"}]})),
            "invalid_working_hours",
        ),
        (slots(json!({"working_hours": [{"days": ["mon"], "start": "9am", "end": "17:00"}]})), "invalid_working_hours"),
    ] {
        let response = availability(&h, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(error_code(&response), code, "{body}");
    }
    assert_eq!(h.calendar.freebusy_calls.load(Ordering::SeqCst), 0, "nothing reaches Google for a bad request");
}

#[tokio::test]
async fn users_of_other_tenants_look_unconnected_and_cost_no_google_call() {
    // given a colleague connected in the caller's tenant and the caller's own id in another tenant
    let h = connected(true).await;
    let outsider = harness_connect_other_tenant(&h).await;
    let before = h.calendar.freebusy_calls.load(Ordering::SeqCst);
    let mut body = week();
    body["user_ids"] = json!([USER, outsider, "never-connected"]);
    let mut e = as_service(event("get-availability/busy.json"), TENANT);
    e["body"] = body.to_string().into();
    let response = get_availability::handle(&h.app, request(&e)).await;
    assert_eq!(response.status(), 200);
    let body = body_json(&response);
    assert_eq!(body["unavailable"], json!({outsider: "not_connected", "never-connected": "not_connected"}));
    assert_eq!(h.calendar.freebusy_calls.load(Ordering::SeqCst) - before, 1, "only the caller's calendars were read");
}

/// Connects a user id in another tenant; returns that user id.
async fn harness_connect_other_tenant(h: &Harness) -> String {
    let outsider = "user-outside";
    let consent = FakeConsent {
        account: ProviderAccount {
            id: "1180000099".into(),
            email: Some("out@example.com".into()),
            organisation_id: None,
        },
        granted_scopes: ScopeSet::parse(ALL_SCOPES),
        issue_refresh_token: true,
    };
    h.connect_as("other-clinic", outsider, consent).await;
    h.calendar.set_calendars("1180000099", vec![entry("out@example.com", "owner", true)]);
    outsider.to_owned()
}

fn slots_body(mode: &str) -> Value {
    let mut body = event("get-availability/slots-team.json");
    let mut request: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    request["slots"]["mode"] = mode.into();
    request["time_min"] = "2026-12-02T14:00:00Z".into(); // Wed 09:00 New York
    request["time_max"] = "2026-12-02T17:00:00Z".into(); // Wed 12:00 New York
    body["body"] = request.to_string().into();
    body
}

#[tokio::test]
async fn slots_need_everyone_free_in_mode_all_and_anyone_in_mode_any() {
    let h = connected(true).await;
    h.clock_to("2026-12-01T00:00:00Z");
    // The caller is busy 09:00-09:30 New York; the colleague 10:30-11:00.
    h.calendar.add_busy(SUBJECT, "dr.lee@example.com", busy("2026-12-02T14:00:00Z", "2026-12-02T14:30:00Z"));
    h.calendar.add_busy(COLLEAGUE_SUBJECT, "sam@example.com", busy("2026-12-02T15:30:00Z", "2026-12-02T16:00:00Z"));
    // extra_busy in the event blocks 10:00-11:00 for everyone.

    let all = body_json(&get_availability::handle(&h.app, request(&slots_body("all"))).await);
    let starts: Vec<&str> = all["slots"].as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()).collect();
    // 09:00 is the caller's, 09:30 and 09:45 run into extra_busy at 10:00 with the 10-minute
    // buffer after them, 10:00-11:00 is extra_busy, so the first common slot is 11:00.
    assert_eq!(starts, ["2026-12-02T16:00:00Z", "2026-12-02T16:15:00Z", "2026-12-02T16:30:00Z"]);
    assert!(all["slots"].as_array().unwrap().iter().all(|s| s["user_ids"] == json!([USER, COLLEAGUE])));

    let any = body_json(&get_availability::handle(&h.app, request(&slots_body("any"))).await);
    let first = &any["slots"][0];
    assert_eq!(first["start"], "2026-12-02T14:00:00Z");
    assert_eq!(first["user_ids"], json!([COLLEAGUE]), "only the colleague is free at 09:00");
}

#[tokio::test]
async fn an_unreadable_calendar_fails_closed() {
    let h = connected(true).await;
    h.clock_to("2026-12-01T00:00:00Z");
    h.calendar.make_unreadable("sam@example.com");
    // The service sees why the colleague is missing; the user sees slots only.
    let service = as_service(slots_body("all"), TENANT);
    let all = body_json(&get_availability::handle(&h.app, request(&service)).await);
    assert_eq!(all["unavailable"][COLLEAGUE], "calendar_error");
    assert!(all["busy"].get(COLLEAGUE).is_none());
    assert_eq!(all["slots"], json!([]), "mode all offers nothing for a range it could not read");
    let all = body_json(&get_availability::handle(&h.app, request(&slots_body("all"))).await);
    assert!(all["unavailable"].get(COLLEAGUE).is_none(), "a user never learns a colleague's state");
    assert_eq!(all["slots"], json!([]));
    let any = body_json(&get_availability::handle(&h.app, request(&slots_body("any"))).await);
    assert!(!any["slots"].as_array().unwrap().is_empty());
    assert!(any["slots"].as_array().unwrap().iter().all(|s| s["user_ids"] == json!([USER])));
}

#[tokio::test]
async fn concurrent_requests_with_an_expired_token_refresh_once() {
    // given a connection whose access token is about to expire
    let h = connected(false).await;
    h.clock.advance(SignedDuration::from_mins(56));
    // when 20 requests arrive at once
    let requests = (0..20).map(|_| get_availability::handle(&h.app, request(&event("get-availability/busy.json"))));
    let responses = futures_util::future::join_all(requests).await;
    // then all succeed and Google saw exactly one refresh
    assert!(responses.iter().all(|r| r.status() == 200));
    assert_eq!(h.google.refreshes.load(Ordering::SeqCst), 1);
    let record = h.stored_record(TENANT, USER).await;
    assert!(record.refresh_lease_until.is_none(), "the lease was released with the new token");
}

#[tokio::test]
async fn a_revoked_grant_turns_the_connection_into_needs_reconnect() {
    let h = connected(false).await;
    h.clock.advance(SignedDuration::from_mins(56));
    h.google.fail_next_refresh(OAuthError::InvalidGrant);
    let response = list(&h).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (409, "needs_reconnect"));
    let status = h.status_as(TENANT, USER).await;
    assert_eq!(status["status"], "needs_reconnect");
    assert!(status["last_error"].as_str().unwrap().starts_with("invalid_grant"));
    // No further Google calls are made for it.
    let (lists, refreshes) = (h.calendar.list_calls.load(Ordering::SeqCst), h.google.refreshes.load(Ordering::SeqCst));
    assert_eq!(list(&h).await.status(), 409);
    let availability =
        body_json(&get_availability::handle(&h.app, request(&event("get-availability/busy.json"))).await);
    assert_eq!(availability["unavailable"][USER], "needs_reconnect");
    assert_eq!(h.calendar.list_calls.load(Ordering::SeqCst), lists);
    assert_eq!(h.google.refreshes.load(Ordering::SeqCst), refreshes);
    assert_eq!(h.calendar.freebusy_calls.load(Ordering::SeqCst), 0);
    // Reconnecting heals it.
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    assert_eq!(list(&h).await.status(), 200);
}

#[tokio::test]
async fn rate_limits_are_retried_and_persistent_failures_answer_503() {
    let h = connected(false).await;
    h.calendar.fail_next([
        GoogleApiError::RateLimited { retry_after: None },
        // What the adapter makes of a 403 `rateLimitExceeded` with a Retry-After.
        GoogleApiError::RateLimited { retry_after: Some(std::time::Duration::from_millis(1)) },
    ]);
    assert_eq!(list(&h).await.status(), 200);
    assert_eq!(h.calendar.list_calls.load(Ordering::SeqCst), 3);

    h.calendar.fail_next((0..1000).map(|_| GoogleApiError::Unavailable("503".into())));
    let response = list(&h).await;
    assert_eq!(response.status(), 503);
    assert_eq!(error_code(&response), "temporarily_unavailable");
    assert!(header(&response, "retry-after").is_some());
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries() {
    let h = connected(false).await;
    h.google.expire_access_tokens();
    assert_eq!(list(&h).await.status(), 200);
    assert_eq!(h.google.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(h.calendar.list_calls.load(Ordering::SeqCst), 2);
    // Not refreshed again on the next request: the new token is stored.
    assert_eq!(list(&h).await.status(), 200);
    assert_eq!(h.google.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_user_sees_only_their_own_busy_time_and_others_as_slots() {
    let h = connected(true).await;
    h.clock_to("2026-12-01T00:00:00Z");
    h.calendar.add_busy(SUBJECT, "dr.lee@example.com", busy("2026-12-02T14:00:00Z", "2026-12-02T14:30:00Z"));
    h.calendar.add_busy(COLLEAGUE_SUBJECT, "sam@example.com", busy("2026-12-02T15:30:00Z", "2026-12-02T16:00:00Z"));
    // Slots across the team: the colleague's busy time and connection state stay hidden.
    let team = body_json(&get_availability::handle(&h.app, request(&slots_body("any"))).await);
    assert!(!team["slots"].as_array().unwrap().is_empty());
    assert_eq!(team["busy"].as_object().unwrap().keys().collect::<Vec<_>>(), [USER]);
    assert_eq!(team["unavailable"], json!({}));
    let as_app = body_json(&get_availability::handle(&h.app, request(&as_service(slots_body("any"), TENANT))).await);
    assert_eq!(as_app["busy"].as_object().unwrap().len(), 2, "the service sees everyone's");

    // The attacks of issue 12: a colleague's raw busy time, or calendars the caller picks for them.
    let before = h.calendar.calls();
    let mut others = week();
    others["user_ids"] = json!([USER, COLLEAGUE]);
    let response = availability(&h, others.clone()).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (403, "forbidden"));
    let mut picked = week();
    picked["user_ids"] = json!([COLLEAGUE]);
    picked["calendar_ids"] = json!({ COLLEAGUE: ["ceo@example.com"] });
    picked["slots"] =
        serde_json::from_str::<Value>(slots_body("any")["body"].as_str().unwrap()).unwrap()["slots"].clone();
    let response = availability(&h, picked.clone()).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (403, "forbidden"));
    assert_eq!(h.calendar.calls(), before, "refused before any Google call");
    // The service may do both.
    for body in [others, picked] {
        let mut e = as_service(event("get-availability/busy.json"), TENANT);
        e["body"] = body.to_string().into();
        assert_eq!(get_availability::handle(&h.app, request(&e)).await.status(), 200);
    }
    // And must say whom it asks about.
    let mut e = as_service(event("get-availability/busy.json"), TENANT);
    e["body"] = week().to_string().into();
    let response = get_availability::handle(&h.app, request(&e)).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (400, "user_required"));
}
