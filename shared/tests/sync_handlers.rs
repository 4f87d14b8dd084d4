//! sync-appointment on fakes: EventBridge events from `events/sync-appointment/`, the HTTP
//! routes, and a property test over random interleavings and duplicates. The fake calendar's
//! event store is inspected, not just calbridge's records.

mod support;

use std::time::Duration;

use calbridge::domain::{AppointmentId, ScopeSet, TenantId};
use calbridge::fakes::FakeConsent;
use calbridge::handlers::sync_appointment;
use calbridge::ports::{CalendarEntry, GoogleApiError, GoogleEvent, OAuthError, ProviderAccount};
use jiff::SignedDuration;
use proptest::prelude::*;
use serde_json::{Value, json};
use support::*;
use tokio::time::Instant;

const CALENDAR: &str = "dr.lee@example.com";
const COLLEAGUE: &str = "user-91bc";
const COLLEAGUE_CALENDAR: &str = "sam@example.com";

fn calendar(id: &str) -> CalendarEntry {
    CalendarEntry { id: id.into(), summary: id.into(), primary: true, access_role: "owner".into(), time_zone: None }
}

async fn connected() -> Harness {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    h.calendar.set_calendars("1180000001", vec![calendar(CALENDAR)]);
    h
}

async fn connect_colleague(h: &Harness) {
    let colleague = FakeConsent {
        account: ProviderAccount {
            id: "1180000002".into(),
            email: Some(COLLEAGUE_CALENDAR.into()),
            organisation_id: None,
        },
        granted_scopes: ScopeSet::parse(ALL_SCOPES),
        issue_refresh_token: true,
    };
    h.connect_as(TENANT, COLLEAGUE, colleague).await;
    h.calendar.set_calendars("1180000002", vec![calendar(COLLEAGUE_CALENDAR)]);
}

fn sync_event(name: &str) -> Value {
    event(&format!("sync-appointment/{name}.json"))
}

fn with_detail(mut event: Value, patch: Value) -> Value {
    for (k, v) in patch.as_object().unwrap() {
        event["detail"][k] = v.clone();
    }
    event
}

async fn deliver(h: &Harness, event: Value) -> Result<Value, calbridge::usecases::sync::SyncError> {
    sync_appointment::handle_event(&h.app, event, Instant::now() + Duration::from_secs(10)).await
}

/// The events Google holds on the caller's primary calendar.
fn google_events(h: &Harness) -> Vec<GoogleEvent> {
    h.calendar.events(CALENDAR)
}

fn live(h: &Harness) -> Vec<GoogleEvent> {
    google_events(h).into_iter().filter(|e| e.status != "cancelled").collect()
}

async fn record_of(h: &Harness) -> Option<calbridge::ports::SyncRecord> {
    let (tenant, appointment) = (TenantId::parse(TENANT).unwrap(), AppointmentId::parse("a-123").unwrap());
    h.app.syncs.get_sync(&tenant, &appointment).await.unwrap()
}

#[tokio::test]
async fn a_create_writes_one_private_event_with_the_derived_id() {
    let h = connected().await;
    let outcome = deliver(&h, sync_event("with-title")).await.unwrap();
    assert_eq!(outcome["outcome"], "synced");
    let events = google_events(&h);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    let expected_id = calbridge::domain::appointment_event_id(
        &TenantId::parse(TENANT).unwrap(),
        &AppointmentId::parse("a-123").unwrap(),
    );
    assert_eq!(event.id, expected_id);
    assert!(event.id.len() >= 5 && event.id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9')));
    assert_eq!(event.summary.as_deref(), Some("Appointment"), "titles stay out of Google unless allowed");
    assert_eq!(event.private_properties["calbridge_tenant"], TENANT);
    assert_eq!(event.private_properties["calbridge_appointment"], "a-123");
    assert_eq!(event.start.unwrap().to_string(), "2026-12-03T15:00:00Z");
    let record = record_of(&h).await.unwrap();
    assert_eq!(
        (record.status.as_str(), record.version, record.calendar_id.as_deref()),
        ("synced", 1795255200000, Some("primary"))
    );
}

#[tokio::test]
async fn titles_reach_google_only_when_allowed() {
    let mut h = connected().await;
    h.app.settings.sync.allow_event_titles = true;
    deliver(&h, sync_event("with-title")).await.unwrap();
    assert_eq!(google_events(&h)[0].summary.as_deref(), Some("Initial consultation"));
}

#[tokio::test]
async fn the_same_event_delivered_three_times_concurrently_makes_one_google_event() {
    let h = connected().await;
    let deliveries = (0..3).map(|_| deliver(&h, sync_event("create")));
    let outcomes: Vec<Value> =
        futures_util::future::join_all(deliveries).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(google_events(&h).len(), 1);
    let synced = outcomes.iter().filter(|o| o["outcome"] == "synced").count();
    let ignored = outcomes.iter().filter(|o| o["outcome"] == "ignored_stale").count();
    assert_eq!((synced, ignored), (1, 2), "{outcomes:?}");
}

#[tokio::test]
async fn a_lost_insert_response_is_retried_into_the_same_event() {
    let h = connected().await;
    h.calendar.lose_next_insert_response();
    let outcome = deliver(&h, sync_event("create")).await.unwrap();
    assert_eq!(outcome["outcome"], "synced");
    assert_eq!(google_events(&h).len(), 1, "the retry found Google's copy (409) instead of adding one");
}

#[tokio::test]
async fn out_of_order_versions_converge_on_the_newest() {
    let h = connected().await;
    let v = |n: u64, start: &str, end: &str| {
        with_detail(sync_event("update"), json!({"version": n, "start": start, "end": end}))
    };
    assert_eq!(deliver(&h, v(3, "2026-12-03T18:00:00Z", "2026-12-03T19:00:00Z")).await.unwrap()["outcome"], "synced");
    assert_eq!(
        deliver(&h, v(1, "2026-12-03T15:00:00Z", "2026-12-03T16:00:00Z")).await.unwrap()["outcome"],
        "ignored_stale"
    );
    assert_eq!(
        deliver(&h, v(2, "2026-12-03T16:00:00Z", "2026-12-03T17:00:00Z")).await.unwrap()["outcome"],
        "ignored_stale"
    );
    let events = live(&h);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].start.unwrap().to_string(), "2026-12-03T18:00:00Z");
}

#[tokio::test]
async fn a_delete_before_its_create_leaves_no_event() {
    let h = connected().await;
    assert_eq!(
        deliver(&h, with_detail(sync_event("delete"), json!({"version": 4}))).await.unwrap()["outcome"],
        "deleted"
    );
    assert_eq!(
        deliver(&h, with_detail(sync_event("create"), json!({"version": 1}))).await.unwrap()["outcome"],
        "ignored_stale"
    );
    assert!(live(&h).is_empty());
    assert_eq!(record_of(&h).await.unwrap().status.as_str(), "deleted");
}

#[tokio::test]
async fn create_update_delete_and_a_later_recreate() {
    let h = connected().await;
    deliver(&h, sync_event("create")).await.unwrap();
    deliver(&h, sync_event("update")).await.unwrap();
    assert_eq!(live(&h)[0].start.unwrap().to_string(), "2026-12-03T16:00:00Z");
    assert_eq!(deliver(&h, sync_event("delete")).await.unwrap()["outcome"], "deleted");
    assert!(live(&h).is_empty());
    // Deleting again (404/410 at Google) is success; a newer create revives the same event.
    let again = with_detail(sync_event("delete"), json!({"version": 1795255320001u64}));
    assert_eq!(deliver(&h, again).await.unwrap()["outcome"], "deleted");
    let revived = with_detail(sync_event("create"), json!({"version": 1795255320002u64}));
    assert_eq!(deliver(&h, revived).await.unwrap()["outcome"], "synced");
    assert_eq!(google_events(&h).len(), 1);
    assert_eq!(live(&h).len(), 1);
}

#[tokio::test]
async fn reassignment_moves_the_event_between_calendars() {
    let h = connected().await;
    connect_colleague(&h).await;
    deliver(&h, sync_event("create")).await.unwrap();
    let outcome = deliver(&h, sync_event("reassign")).await.unwrap();
    assert_eq!(outcome["outcome"], "synced");
    assert_eq!(outcome["record"]["user_id"], COLLEAGUE);
    let previous = google_events(&h);
    assert_eq!((previous.len(), previous[0].status.as_str()), (1, "cancelled"), "removed from the old calendar");
    let moved = h.calendar.events(COLLEAGUE_CALENDAR);
    assert_eq!((moved.len(), moved[0].status.as_str()), (1, "confirmed"), "created on the new one");
}

#[tokio::test]
async fn failure_classes_are_recorded_and_answered_as_specified() {
    // Not connected: recorded, success (no retry storm).
    let h = harness();
    let outcome = deliver(&h, sync_event("create")).await.unwrap();
    assert_eq!(outcome["outcome"], "skipped_not_connected");
    assert_eq!(record_of(&h).await.unwrap().status.as_str(), "skipped_not_connected");

    // Needs reconnect: recorded as failed with the reason, success.
    let h = connected().await;
    h.clock.advance(SignedDuration::from_mins(56));
    h.google.fail_next_refresh(OAuthError::InvalidGrant);
    let outcome = deliver(&h, sync_event("create")).await.unwrap();
    assert_eq!(outcome["outcome"], "failed_needs_reconnect");
    let record = record_of(&h).await.unwrap();
    assert_eq!(record.status.as_str(), "failed");
    assert!(record.error.unwrap().starts_with("needs_reconnect"));

    // Transient: retried, then an error (so Lambda retries), the record shows the attempt.
    let h = connected().await;
    h.calendar.fail_next((0..1000).map(|_| GoogleApiError::Unavailable("503".into())));
    assert!(deliver(&h, sync_event("create")).await.is_err());
    let record = record_of(&h).await.unwrap();
    assert_eq!((record.status.as_str(), record.attempts, record.version), ("failed", 1, 0));
    assert!(record.lease_until.is_none());
    // ...and the redelivery succeeds.
    h.calendar.clear_failures();
    assert_eq!(deliver(&h, sync_event("create")).await.unwrap()["outcome"], "synced");

    // Poison: rejected without retry, nothing written.
    let h = connected().await;
    let outcome = deliver(&h, sync_event("invalid")).await.unwrap();
    assert_eq!(outcome["outcome"], "rejected");
    assert!(record_of(&h).await.is_none());
    let foreign = with_detail(sync_event("create"), json!({}));
    let mut foreign = foreign;
    foreign["source"] = "someone.else".into();
    assert_eq!(deliver(&h, foreign).await.unwrap()["outcome"], "rejected");
}

#[tokio::test]
async fn http_routes_sync_now_and_show_the_record_to_the_same_tenant_only() {
    let h = connected().await;
    let response = sync_appointment::handle(&h.app, request(&sync_event("http-sync"))).await;
    assert_eq!(response.status(), 200, "{:?}", body_json(&response));
    assert_eq!(body_json(&response)["outcome"], "synced");

    let response = sync_appointment::handle(&h.app, request(&sync_event("http-status"))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response)["status"], "synced");

    let other_tenant = as_service(sync_event("http-status"), "other-clinic");
    assert_eq!(sync_appointment::handle(&h.app, request(&other_tenant)).await.status(), 404);

    let mut spoof = sync_event("http-sync");
    let mut body: Value = serde_json::from_str(spoof["body"].as_str().unwrap()).unwrap();
    body["tenant_id"] = "other-clinic".into();
    spoof["body"] = body.to_string().into();
    assert_eq!(sync_appointment::handle(&h.app, request(&spoof)).await.status(), 400);
}

#[tokio::test]
async fn users_may_not_sync_and_versions_are_bounded() {
    let h = connected().await;
    connect_colleague(&h).await;
    // The attack of issue 12: a client deletes a colleague's event at the largest version.
    let attack = |user: &str| {
        let mut e = as_user(sync_event("http-sync"), TENANT, user);
        e["body"] = json!({"user_id": USER, "action": "delete", "version": u64::MAX}).to_string().into();
        e
    };
    for user in ["client-31", USER] {
        let response = sync_appointment::handle(&h.app, request(&attack(user))).await;
        assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (403, "forbidden"), "{user}");
        let status = as_user(sync_event("http-status"), TENANT, user);
        assert_eq!(sync_appointment::handle(&h.app, request(&status)).await.status(), 403);
    }
    assert!(record_of(&h).await.is_none(), "nothing written");
    assert_eq!(h.calendar.calls(), 0, "no Google call");
    // The service itself cannot poison the record with a version beyond tomorrow.
    let mut huge = sync_event("http-sync");
    huge["body"] = json!({"user_id": USER, "action": "delete", "version": u64::MAX}).to_string().into();
    let response = sync_appointment::handle(&h.app, request(&huge)).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (400, "version_out_of_range"));
    assert!(record_of(&h).await.is_none());
    let event = with_detail(sync_event("delete"), json!({"version": u64::MAX}));
    assert_eq!(deliver(&h, event).await.unwrap()["outcome"], "rejected");
    assert!(record_of(&h).await.is_none());
}

// ---------------------------------------------------------------------------------------------
// Property: whatever the order and duplication of an appointment's history, Google ends in
// the state the highest version asks for.

#[derive(Debug, Clone)]
struct Step {
    version: u64,
    delete: bool,
    hour: u8,
}

fn history() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((any::<bool>(), 8u8..18), 1..6).prop_flat_map(|intents| {
        let steps: Vec<Step> = intents
            .into_iter()
            .enumerate()
            .map(|(i, (delete, hour))| Step { version: i as u64 + 1, delete, hour })
            .collect();
        // Every step delivered once or twice, in any order.
        let deliveries = steps.iter().flat_map(|s| [s.clone(), s.clone()]).collect::<Vec<_>>();
        (Just(steps), proptest::sample::subsequence(deliveries.clone(), steps_len(&deliveries)..=deliveries.len()))
            .prop_flat_map(|(steps, chosen)| (Just(steps), Just(chosen).prop_shuffle()))
            .prop_map(|(steps, mut chosen)| {
                // Make sure every version is delivered at least once.
                for step in &steps {
                    if !chosen.iter().any(|c| c.version == step.version) {
                        chosen.push(step.clone());
                    }
                }
                chosen
            })
    })
}

fn steps_len(deliveries: &[Step]) -> usize {
    deliveries.len() / 2
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn final_google_state_is_the_highest_versions_intent(deliveries in history()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let h = connected().await;
            for step in &deliveries {
                let event = if step.delete {
                    with_detail(sync_event("delete"), json!({"version": step.version}))
                } else {
                    let start = format!("2026-12-03T{:02}:00:00Z", step.hour);
                    let end = format!("2026-12-03T{:02}:30:00Z", step.hour);
                    with_detail(sync_event("update"), json!({"version": step.version, "start": start, "end": end}))
                };
                deliver(&h, event).await.unwrap();
            }
            let last = deliveries.iter().max_by_key(|s| s.version).unwrap();
            let live = live(&h);
            assert!(google_events(&h).len() <= 1, "never two events for one appointment");
            if last.delete {
                assert!(live.is_empty(), "deleted at v{} but Google shows {live:?}", last.version);
            } else {
                assert_eq!(live.len(), 1);
                assert_eq!(live[0].start.unwrap().to_string(), format!("2026-12-03T{:02}:00:00Z", last.hour));
                assert_eq!(live[0].private_properties["calbridge_version"], last.version.to_string());
            }
        });
    }
}
