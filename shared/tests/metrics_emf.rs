//! calbridge's metrics as CloudWatch reads them: the EMF lines the real exporter writes, for
//! recorded values and for a handler flow on fakes, with only allowed, closed-set dimensions
//! and no tenant, user or account id anywhere in a line. Given / when / then.
//!
//! The exporter is a process-wide recorder, so this binary installs it once and its tests take
//! turns ([`SERIAL`]), each draining what came before it.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use calbridge::domain::Provider;
use calbridge::handlers::get_availability;
use calbridge::metrics::{self, ALLOWED_DIMENSIONS, GoogleApi, StatusClass, names};
use calbridge::ports::OAuthError;
use jiff::SignedDuration;
use serde_json::Value;
use support::*;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const NAMESPACE: &str = "calbridge-test";
const FUNCTION: &str = "calbridge-test-get-availability";

/// Installs the exporter (once) and returns the EMF documents written since the last drain.
fn drain() -> Vec<(String, Value)> {
    assert!(metrics::install_with(Some(NAMESPACE.to_owned()), Some(FUNCTION.to_owned())));
    let mut out = Vec::new();
    metrics::flush_to(&mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| (line.to_owned(), serde_json::from_str(line).expect("every line is one JSON document")))
        .collect()
}

/// The document holding `metric`, whose dimensions have the values `dimensions`.
fn find<'a>(docs: &'a [(String, Value)], metric: &str, dimensions: &[(&str, &str)]) -> Option<&'a Value> {
    docs.iter()
        .map(|(_, doc)| doc)
        .find(|doc| doc.get(metric).is_some() && dimensions.iter().all(|(k, v)| doc[*k] == *v))
}

/// The dimension keys of a document's (single) metric directive.
fn dimension_keys(doc: &Value) -> Vec<String> {
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    directive["Dimensions"][0].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect()
}

/// What CloudWatch requires of every EMF document, and what calbridge promises of its own.
fn assert_well_formed(line: &str, doc: &Value, ids: &[&str]) {
    let aws = &doc["_aws"];
    assert!(aws["Timestamp"].as_u64().is_some_and(|t| t > 1_700_000_000_000), "{line}");
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(directives.len(), 1, "{line}");
    assert_eq!(directives[0]["Namespace"], NAMESPACE, "{line}");
    for key in dimension_keys(doc) {
        assert!(ALLOWED_DIMENSIONS.contains(&key.as_str()), "dimension {key} is not allowed: {line}");
        assert!(doc[&key].is_string(), "a dimension's value is on the root: {line}");
    }
    for metric in directives[0]["Metrics"].as_array().unwrap() {
        let name = metric["Name"].as_str().unwrap();
        assert!(doc[name].is_number() || doc[name].is_array(), "{name} has a value: {line}");
    }
    // A property, not a dimension: alarms need not name each function's generated name.
    assert_eq!(doc["function"], FUNCTION, "{line}");
    assert!(!dimension_keys(doc).contains(&"function".to_owned()), "{line}");
    for id in ids {
        assert!(!line.contains(id), "{id} reached a metric: {line}");
    }
}

#[test]
fn recorded_values_become_emf_lines_per_dimension_set() {
    let _turn = SERIAL.blocking_lock();
    drain();
    // when two FreeBusy calls succeed, one is rate limited and one availability answer is timed
    metrics::google_call(GoogleApi::FreeBusy, StatusClass::Success);
    metrics::google_call(GoogleApi::FreeBusy, StatusClass::Success);
    metrics::google_call(GoogleApi::FreeBusy, StatusClass::RateLimited);
    metrics::availability(Duration::from_millis(12), 3);
    metrics::webhook_verification_failed(Provider::Zoom);
    let docs = drain();
    for (line, doc) in &docs {
        assert_well_formed(line, doc, &[]);
    }
    // then each dimension set is its own document, counters summed since the last flush
    let ok = find(&docs, names::GOOGLE_CALLS, &[("api", "freebusy"), ("status_class", "2xx")]).expect("2xx line");
    assert_eq!(ok[names::GOOGLE_CALLS], 2);
    assert_eq!(dimension_keys(ok), ["api", "status_class"]);
    assert_eq!(ok["_aws"]["CloudWatchMetrics"][0]["Metrics"], serde_json::json!([{ "Name": "GoogleCalls" }]));
    let limited = find(&docs, names::GOOGLE_CALLS, &[("status_class", "429")]).expect("429 line");
    assert_eq!(limited[names::GOOGLE_CALLS], 1);
    // histograms carry every value (CloudWatch computes p50/p99 from them), with their unit
    let latency = find(&docs, names::AVAILABILITY_LATENCY, &[]).expect("latency line");
    assert_eq!(latency[names::AVAILABILITY_LATENCY], serde_json::json!([12.0]));
    assert_eq!(latency[names::AVAILABILITY_GOOGLE_CALLS], serde_json::json!([3.0]));
    assert!(dimension_keys(latency).is_empty(), "one series for the whole stack");
    let units: BTreeSet<(String, String)> = latency["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["Name"].as_str().unwrap().to_owned(), m["Unit"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert!(units.contains(&("AvailabilityLatency".to_owned(), "Milliseconds".to_owned())), "{units:?}");
    let hooks = find(&docs, names::WEBHOOK_VERIFICATIONS_FAILED, &[("provider", "zoom")]).expect("webhook line");
    assert_eq!(hooks[names::WEBHOOK_VERIFICATIONS_FAILED], 1);
    // and a flush with nothing new writes nothing
    assert!(drain().is_empty());
}

#[tokio::test]
async fn an_availability_request_emits_its_latency_calls_and_a_refused_refresh() {
    let _turn = SERIAL.lock().await;
    // given a connected user whose access token has expired and whose grant Google revoked
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    drain();
    h.clock.advance(SignedDuration::from_mins(56));
    h.google.fail_next_refresh(OAuthError::InvalidGrant);
    // when the app asks for their availability
    let response = get_availability::handle(&h.app, request(&event("get-availability/busy.json"))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response)["unavailable"][USER], "needs_reconnect");
    // then the refresh, the connection turned needs_reconnect and the answer are counted,
    // with allowed dimensions only and no tenant, user or Google account id
    let docs = drain();
    let ids = [TENANT, USER, "1180000001", "dr.lee@example.com"];
    for (line, doc) in &docs {
        assert_well_formed(line, doc, &ids);
    }
    let refresh = find(&docs, names::TOKEN_REFRESHES, &[("provider", "google"), ("outcome", "invalid_grant")]);
    assert_eq!(refresh.expect("refresh line")[names::TOKEN_REFRESHES], 1);
    let reconnect = find(&docs, names::NEEDS_RECONNECT, &[("provider", "google"), ("reason", "invalid_grant")]);
    assert_eq!(reconnect.expect("needs_reconnect line")[names::NEEDS_RECONNECT], 1);
    let answer = find(&docs, names::AVAILABILITY_LATENCY, &[]).expect("latency line");
    assert_eq!(answer[names::AVAILABILITY_LATENCY].as_array().unwrap().len(), 1);
    assert_eq!(answer[names::AVAILABILITY_GOOGLE_CALLS], serde_json::json!([0.0]), "no FreeBusy call was made");

    // when they reconnect and are asked about again
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    drain();
    let response = get_availability::handle(&h.app, request(&event("get-availability/busy.json"))).await;
    assert_eq!(response.status(), 200);
    // then one FreeBusy call is counted for the answer, and nothing needed a refresh
    let docs = drain();
    for (line, doc) in &docs {
        assert_well_formed(line, doc, &ids);
    }
    let answer = find(&docs, names::AVAILABILITY_LATENCY, &[]).expect("latency line");
    assert_eq!(answer[names::AVAILABILITY_GOOGLE_CALLS], serde_json::json!([1.0]));
    assert!(find(&docs, names::TOKEN_REFRESHES, &[]).is_none());
    assert!(find(&docs, names::NEEDS_RECONNECT, &[]).is_none());
}

#[tokio::test]
async fn every_sync_outcome_is_counted_by_name_and_a_replay_counts_as_stale() {
    let _turn = SERIAL.lock().await;
    // given a connected user with one calendar
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    h.calendar.set_calendars(
        "1180000001",
        vec![calbridge::ports::CalendarEntry {
            id: "dr.lee@example.com".into(),
            summary: "Dr Lee".into(),
            primary: true,
            access_role: "owner".into(),
            time_zone: None,
        }],
    );
    drain();
    // when one appointment is created, the same change arrives again, and it is deleted
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(10);
    let sync = |name: &str| event(&format!("sync-appointment/{name}.json"));
    let app = &h.app;
    calbridge::handlers::sync_appointment::handle_event(app, sync("create"), deadline()).await.unwrap();
    calbridge::handlers::sync_appointment::handle_event(app, sync("create"), deadline()).await.unwrap();
    calbridge::handlers::sync_appointment::handle_event(app, sync("delete"), deadline()).await.unwrap();
    // then each outcome is one count under its own name, and no id reaches a line
    let docs = drain();
    for (line, doc) in &docs {
        assert_well_formed(line, doc, &[TENANT, USER, "a-123", "dr.lee@example.com"]);
    }
    for outcome in ["synced", "ignored_stale", "deleted"] {
        let line = find(&docs, names::SYNC_OUTCOMES, &[("outcome", outcome)]).unwrap_or_else(|| panic!("{outcome}"));
        assert_eq!(line[names::SYNC_OUTCOMES], 1, "{outcome}");
        assert_eq!(dimension_keys(line), ["outcome"]);
    }
}
