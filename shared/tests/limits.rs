//! Every request limit through the real handlers: each violation is a 400 or 413 with a stable
//! code, writes nothing and makes no Google call; slots page on past `MAX_SLOTS`; and a user's
//! Google call budget answers 429 with `Retry-After`, before any call. Given / when / then.

mod support;

use std::sync::atomic::Ordering;

use calbridge::domain::Interval;
use calbridge::handlers::{auth_start, create_meet, get_availability, list_calendars, sync_appointment};
use calbridge::ports::{CalendarEntry, SyncStore};
use calbridge::usecases::availability::MAX_SLOTS;
use calbridge::usecases::slots::{SlotRules, SlotsRequest, UserAvailability, compute_slots};
use jiff::Timestamp;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use support::*;

const SUBJECT: &str = "1180000001";
const COLLEAGUE: &str = "user-91bc";

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn entry(id: &str) -> CalendarEntry {
    CalendarEntry { id: id.into(), summary: id.into(), primary: true, access_role: "owner".into(), time_zone: None }
}

/// The caller and a colleague connected in the tenant, the clock at a known second.
async fn connected() -> Harness {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    h.calendar.set_calendars(SUBJECT, vec![entry("dr.lee@example.com")]);
    let colleague = calbridge::fakes::FakeConsent {
        account: calbridge::ports::ProviderAccount {
            id: "1180000002".into(),
            email: Some("sam@example.com".into()),
            organisation_id: None,
        },
        ..consent(ALL_SCOPES, true)
    };
    h.connect_as(TENANT, COLLEAGUE, colleague).await;
    h.clock_to("2026-11-20T10:00:20Z");
    // Count only what the test itself causes.
    h.calendar.freebusy_calls.store(0, Ordering::SeqCst);
    h.calendar.list_calls.store(0, Ordering::SeqCst);
    h
}

fn google_calls(h: &Harness) -> usize {
    h.calendar.freebusy_calls.load(Ordering::SeqCst) + h.calendar.list_calls.load(Ordering::SeqCst)
}

/// `POST /availability` by the service, with `body`.
async fn availability(h: &Harness, body: &Value) -> Response<Body> {
    let mut e = as_service(event("get-availability/busy.json"), TENANT);
    e["body"] = body.to_string().into();
    get_availability::handle(&h.app, request(&e)).await
}

/// A one-day slots request for the caller, with `patch` merged into `slots`.
fn slots(patch: Value) -> Value {
    let mut body = json!({
        "user_ids": [USER],
        "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-02T00:00:00Z",
        "slots": {"duration_minutes": 30, "time_zone": "UTC",
                  "working_hours": [{"days": ["tue"], "start": "09:00", "end": "17:00"}]},
    });
    for (k, v) in patch.as_object().unwrap() {
        body["slots"][k] = v.clone();
    }
    body
}

fn rules(n: usize) -> Value {
    json!(vec![json!({"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}); n])
}

fn calendars(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}@group.calendar.google.com")).collect()
}

#[tokio::test]
async fn every_availability_limit_is_a_400_with_its_code_and_no_google_call() {
    let h = connected().await;
    let busy = json!({"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:30:00Z"});
    let users: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    // The 17 KB of working-hours rules that used to run out of memory.
    let heavy = slots(json!({"working_hours": rules(220), "step_minutes": 5}));
    assert!(heavy.to_string().len() > 17_000 && heavy.to_string().len() < 64 * 1024);
    let mut both = slots(json!({}));
    both["user_ids"] = json!([USER, COLLEAGUE]);
    both["calendar_ids"] = json!({USER: calendars(125, "a"), COLLEAGUE: calendars(126, "b")});
    let mut one = slots(json!({}));
    one["calendar_ids"] = json!({USER: calendars(251, "a")});
    let mut long = slots(json!({}));
    long["time_max"] = "2027-02-02T00:00:01Z".into();
    let mut crowd = slots(json!({}));
    crowd["user_ids"] = json!(users);

    let cases = [
        (
            "the buffer that made ~1000 FreeBusy calls",
            slots(json!({"buffer_before_minutes": 52_560_000})),
            "buffer_too_long",
        ),
        ("a buffer before over a day", slots(json!({"buffer_before_minutes": 1441})), "buffer_too_long"),
        ("a buffer after over a day", slots(json!({"buffer_after_minutes": 1441})), "buffer_too_long"),
        ("notice over 62 days", slots(json!({"minimum_notice_minutes": 62 * 1440 + 1})), "notice_too_long"),
        ("a step under 5 minutes", slots(json!({"step_minutes": 4})), "invalid_step"),
        ("a 1-minute duration with its default step", slots(json!({"duration_minutes": 1})), "invalid_step"),
        ("29 working-hours rules", slots(json!({"working_hours": rules(29)})), "too_many_working_hours"),
        ("17 KB of working-hours rules", heavy, "too_many_working_hours"),
        ("501 extra_busy entries", slots(json!({"extra_busy": vec![busy; 501]})), "too_many_extra_busy"),
        ("251 calendars for one user", one, "too_many_calendars"),
        ("251 calendars over two users", both, "too_many_calendars"),
        ("51 users", crowd, "too_many_users"),
        ("a range over 62 days", long, "time_range_too_long"),
    ];
    for (what, body, code) in cases {
        let response = availability(&h, &body).await;
        assert_eq!(response.status(), 400, "{what}: {:?}", body_json(&response));
        assert_eq!(error_code(&response), code, "{what}");
    }
    assert_eq!(google_calls(&h), 0, "nothing reaches Google for a refused request");

    // At every maximum the request is served.
    let at_most = slots(json!({
        "buffer_before_minutes": 1440, "buffer_after_minutes": 1440, "minimum_notice_minutes": 62 * 1440,
        "step_minutes": 5, "working_hours": rules(28),
    }));
    assert_eq!(availability(&h, &at_most).await.status(), 200);
}

#[tokio::test]
async fn oversized_bodies_are_413_and_long_queries_400_on_every_route_with_nothing_written() {
    let h = connected().await;
    let padding = "x".repeat(64 * 1024);
    let big = |name: &str, service: bool| {
        let mut e = if service { as_service(event(name), TENANT) } else { as_user(event(name), TENANT, USER) };
        e["body"] = json!({ "padding": padding }).to_string().into();
        e
    };
    let responses = [
        get_availability::handle(&h.app, request(&big("get-availability/busy.json", true))).await,
        list_calendars::handle(&h.app, request(&big("list-calendars/select.json", false))).await,
        create_meet::handle(&h.app, request(&big("create-meet/create.json", true))).await,
        sync_appointment::handle(&h.app, request(&big("sync-appointment/http-sync.json", true))).await,
        auth_start::handle(&h.app, request(&big("auth-start/authorize.json", false))).await,
    ];
    for response in &responses {
        assert_eq!(response.status(), 413, "{:?}", body_json(response));
        assert_eq!(error_code(response), "payload_too_large");
    }
    // Exactly at the limit the body is read (and here refused as JSON, not for its size).
    let mut e = as_service(event("get-availability/busy.json"), TENANT);
    e["body"] = (" ".repeat(64 * 1024 - 2) + "{}").into();
    let response = get_availability::handle(&h.app, request(&e)).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (400, "invalid_request"));

    let long_query = with_query(as_user(event("list-calendars/list.json"), TENANT, USER), &"q=1&".repeat(2100));
    let response = list_calendars::handle(&h.app, request(&long_query)).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (400, "query_too_long"));

    assert_eq!(google_calls(&h), 0);
    for calendar in ["primary", "dr.lee@example.com"] {
        assert!(h.calendar.events(calendar).is_empty(), "no event written");
    }
    let appointment = calbridge::domain::AppointmentId::parse("a-123").unwrap();
    let tenant = calbridge::domain::TenantId::parse(TENANT).unwrap();
    assert!(h.store.get_sync(&tenant, &appointment).await.unwrap().is_none(), "no sync recorded");
}

/// 24-hour, 5-minute slots in UTC over `[time_min, time_max)` for the caller.
fn all_day(time_min: &str, time_max: &str) -> Value {
    json!({
        "user_ids": [USER], "time_min": time_min, "time_max": time_max,
        "slots": {"duration_minutes": 5, "time_zone": "UTC", "working_hours": rules(1), "buffer_after_minutes": 10},
    })
}

#[tokio::test]
async fn slots_page_on_from_next_time_min_to_exactly_the_whole_window() {
    // given a caller with some busy time over three days (864 five-minute slots before busy time)
    let h = connected().await;
    let busy = [
        Interval::new(at("2026-12-01T09:00:00Z"), at("2026-12-01T12:00:00Z")).unwrap(),
        Interval::new(at("2026-12-02T23:55:00Z"), at("2026-12-03T00:20:00Z")).unwrap(),
    ];
    for interval in busy {
        h.calendar.add_busy(SUBJECT, "dr.lee@example.com", interval);
    }
    let (start, end) = ("2026-12-01T00:00:00Z", "2026-12-04T00:00:00Z");

    // when the slots are asked for page by page
    let mut paged: Vec<Value> = Vec::new();
    let mut time_min = start.to_owned();
    let mut pages = 0;
    loop {
        let response = availability(&h, &all_day(&time_min, end)).await;
        assert_eq!(response.status(), 200);
        let body = body_json(&response);
        let page = body["slots"].as_array().unwrap();
        assert!(page.len() <= MAX_SLOTS);
        paged.extend(page.iter().cloned());
        pages += 1;
        match body.get("next_time_min") {
            Some(next) => {
                assert_eq!(page.len(), MAX_SLOTS, "a page is cut only when full");
                time_min = next.as_str().unwrap().to_owned();
            }
            None => break,
        }
    }

    // then together they are exactly the uncapped answer
    let request: SlotsRequest = serde_json::from_value(all_day(start, end)["slots"].clone()).unwrap();
    let rules = SlotRules::parse(request).unwrap();
    let user = UserAvailability { user_id: USER.into(), busy: busy.to_vec(), readable: true };
    let window = Interval::new(at(start), at(end)).unwrap();
    let whole = compute_slots(&rules, window, calbridge::ports::Clock::now(h.clock.as_ref()), &[user]);
    assert!(whole.len() > MAX_SLOTS, "the window needs more than one page");
    assert_eq!(pages, whole.len().div_ceil(MAX_SLOTS));
    assert_eq!(paged, serde_json::to_value(&whole).unwrap().as_array().unwrap().clone());
}

#[tokio::test]
async fn the_largest_slots_answer_stays_small() {
    // 62 days of 24-hour rules at the finest step: 17,856 slots before the cap.
    let h = connected().await;
    let response = availability(&h, &all_day("2026-12-01T00:00:00Z", "2027-01-31T23:55:00Z")).await;
    assert_eq!(response.status(), 200);
    let body = body_json(&response);
    assert_eq!(body["slots"].as_array().unwrap().len(), MAX_SLOTS);
    assert!(body["next_time_min"].is_string());
    assert!(response.body().len() < 200 * 1024, "{} bytes", response.body().len());
}

#[tokio::test]
async fn over_budget_is_429_with_retry_after_and_no_google_call() {
    // given a budget of 2 Calendar calls per user and minute
    let mut h = connected().await;
    h.app.settings.google_calls_per_user_minute = 2;
    h.calendar.set_calendars("1180000002", vec![entry("sam@example.com")]);
    let week = json!({"user_ids": [USER], "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-08T00:00:00Z"});

    // when a request needs more FreeBusy calls than are left (64 days: three windows)
    let mut wide = slots(json!({"buffer_before_minutes": 1440, "buffer_after_minutes": 1440}));
    wide["time_max"] = "2027-02-01T00:00:00Z".into();
    let response = availability(&h, &wide).await;
    // then it is refused before the first call
    assert_eq!(response.status(), 429, "{:?}", body_json(&response));
    assert_eq!(error_code(&response), "rate_limited");
    assert_eq!(header(&response, "retry-after"), Some("40"), "seconds to the next minute");
    assert_eq!(google_calls(&h), 0);

    // when the caller spends the minute's two calls
    assert_eq!(availability(&h, &week).await.status(), 200);
    assert_eq!(availability(&h, &week).await.status(), 200);
    assert_eq!(google_calls(&h), 2);
    // then every Calendar route is refused for that user, with no call
    let response = availability(&h, &week).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (429, "rate_limited"));
    let list = list_calendars::handle(&h.app, request(&as_user(event("list-calendars/list.json"), TENANT, USER))).await;
    assert_eq!((list.status().as_u16(), error_code(&list).as_str()), (429, "rate_limited"));
    assert!(header(&list, "retry-after").is_some());
    // and a request about the user and a colleague makes no call for the colleague either
    let mut team = week.clone();
    team["user_ids"] = json!([COLLEAGUE, USER]);
    assert_eq!(availability(&h, &team).await.status(), 429);
    assert_eq!(google_calls(&h), 2);
    // while the colleague alone still has their own budget
    let mut colleague = week.clone();
    colleague["user_ids"] = json!([COLLEAGUE]);
    assert_eq!(availability(&h, &colleague).await.status(), 200);

    // when the next minute begins, the caller is served again
    h.clock_to("2026-11-20T10:01:00Z");
    assert_eq!(availability(&h, &week).await.status(), 200);
}

#[tokio::test]
async fn a_sync_over_budget_is_retried_from_eventbridge_and_429_over_http() {
    // given a user with no Calendar calls left this minute
    let mut h = connected().await;
    h.app.settings.google_calls_per_user_minute = 0;
    // when the appointment event arrives from EventBridge
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let delivered = sync_appointment::handle_event(&h.app, event("sync-appointment/create.json"), deadline).await;
    // then it fails as transient (EventBridge delivers it again), not as poison
    assert!(matches!(delivered, Err(calbridge::usecases::sync::SyncError::Transient(_))), "{delivered:?}");
    // and over HTTP the service is told to come back after the minute
    let response =
        sync_appointment::handle(&h.app, request(&as_service(event("sync-appointment/http-sync.json"), TENANT))).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (429, "rate_limited"));
    assert_eq!(header(&response, "retry-after"), Some("40"));
    assert_eq!(google_calls(&h), 0);
    for calendar in ["primary", "dr.lee@example.com"] {
        assert!(h.calendar.events(calendar).is_empty(), "nothing reached Google");
    }
}
