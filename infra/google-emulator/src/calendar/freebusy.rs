//! `POST /calendar/v3/freeBusy`.
//!
//! Contract: busy intervals per requested calendar, computed from the stored
//! events that are not cancelled and not `transparent`, clipped to
//! `[timeMin, timeMax)`, sorted and merged (touching intervals merge too), in
//! RFC 3339 UTC. A calendar the caller cannot see (no calendar-list entry, any
//! role) or that does not exist gets `errors: [{domain: global, reason:
//! notFound}]` in an otherwise successful answer, keyed by the id as requested
//! (`primary` stays `primary`). Refused outright: more than 50 items
//! (`tooManyCalendarsRequested`), `timeMax <= timeMin` (`timeRangeEmpty`), and a
//! range longer than the configured maximum (`timeRangeTooLong`: Google
//! documents no limit, so the number is the emulator's assumption).
//! `timeZone` is accepted but output stays in UTC. Recurring events are not
//! expanded.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::event_resource::interval;
use super::{FREEBUSY_SCOPES, authorize};
use crate::faults::{Endpoint, intercept};
use crate::google_errors::ApiError;
use crate::server::ConnectionControl;
use crate::state::{SharedEmulator, Store};

/// Google's limit on calendars per query.
const MAX_ITEMS: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FreeBusyRequest {
    time_min: Option<String>,
    time_max: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // Accepted for compatibility; output is always UTC.
    time_zone: Option<String>,
    #[serde(default)]
    items: Vec<FreeBusyItem>,
}

#[derive(Deserialize)]
struct FreeBusyItem {
    id: String,
}

pub(super) async fn query(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = serde_json::from_slice::<FreeBusyRequest>(&body)
        .map_err(|error| ApiError::bad_request("parseError", format!("Parse Error: {error}")));
    // A fault may target one calendar, so the names requested matter before the work.
    let names = {
        let store = emulator.store();
        let resolved_primary = super::fault_calendar_names(&store, &headers, "primary");
        match &request {
            Ok(request) => request
                .items
                .iter()
                .flat_map(|item| if item.id == "primary" { resolved_primary.clone() } else { vec![item.id.clone()] })
                .collect(),
            Err(_) => Vec::new(),
        }
    };
    let after = match intercept(&emulator, &connection, &[Endpoint::Freebusy], &names).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let result = {
        let max_range = emulator.config.freebusy_max_range;
        let mut store = emulator.store();
        answer(&mut store, &headers, request, max_range)
    };
    let response = match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => error.into_response(),
    };
    after.deliver(&connection, response).await
}

fn parse_bound(raw: Option<&str>, name: &str) -> Result<Timestamp, ApiError> {
    let raw = raw.ok_or_else(|| ApiError::required(format!("Missing {name} parameter.")))?;
    raw.parse::<Timestamp>().map_err(|_| ApiError::invalid(format!("Invalid {name} value: {raw}")))
}

fn answer(
    store: &mut Store,
    headers: &HeaderMap,
    request: Result<FreeBusyRequest, ApiError>,
    max_range: std::time::Duration,
) -> Result<Value, ApiError> {
    // Google authenticates before it reads the body.
    let caller = authorize(store, headers, FREEBUSY_SCOPES)?;
    let request = request?;
    let time_min = parse_bound(request.time_min.as_deref(), "timeMin")?;
    let time_max = parse_bound(request.time_max.as_deref(), "timeMax")?;
    if request.items.len() > MAX_ITEMS {
        return Err(ApiError::bad_request(
            "tooManyCalendarsRequested",
            format!("Too many calendars requested: at most {MAX_ITEMS} are allowed."),
        ));
    }
    if time_max <= time_min {
        return Err(ApiError::bad_request("timeRangeEmpty", "The specified time range is empty."));
    }
    let longest = SignedDuration::try_from(max_range).unwrap_or(SignedDuration::MAX);
    if time_max.duration_since(time_min) > longest {
        return Err(ApiError::bad_request(
            "timeRangeTooLong",
            format!("The requested time range is too long: at most {} days are allowed.", max_range.as_secs() / 86_400),
        ));
    }

    let mut calendars = BTreeMap::new();
    for item in &request.items {
        let resolved = store.resolve_calendar_id(&caller.account, &item.id);
        let visible =
            store.access_role(&caller.account, &resolved).is_some() && store.calendars.contains_key(&resolved);
        let names = [item.id.clone(), resolved.clone()];
        let entry = if !visible {
            json!({"busy": [], "errors": [{"domain": "global", "reason": "notFound"}]})
        } else if store.faults.take_freebusy_calendar_error(&names) {
            json!({"busy": [], "errors": [{"domain": "global", "reason": "backendError"}]})
        } else {
            let busy = busy_intervals(store, &resolved, time_min, time_max);
            json!({"busy": busy.iter().map(|(start, end)| json!({
                "start": format!("{start:.0}"),
                "end": format!("{end:.0}"),
            })).collect::<Vec<_>>()})
        };
        calendars.insert(item.id.clone(), entry);
    }
    Ok(json!({
        "kind": "calendar#freeBusy",
        "timeMin": format!("{time_min:.3}"),
        "timeMax": format!("{time_max:.3}"),
        "calendars": calendars,
    }))
}

/// Busy time on one calendar within `[from, to)`: clipped, sorted, merged.
fn busy_intervals(store: &Store, calendar_id: &str, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    let calendar = &store.calendars[calendar_id];
    let mut intervals: Vec<(Timestamp, Timestamp)> = calendar
        .events
        .iter()
        .filter(|event| !event.is_cancelled())
        .filter(|event| event.resource.get("transparency").and_then(Value::as_str) != Some("transparent"))
        .filter_map(|event| interval(&event.resource, &calendar.time_zone).ok())
        .filter(|(start, end)| *start < to && *end > from)
        .map(|(start, end)| (start.max(from), end.min(to)))
        .filter(|(start, end)| start < end)
        .collect();
    intervals.sort();
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(intervals.len());
    for (start, end) in intervals {
        match merged.last_mut() {
            Some((_, last_end)) if start <= *last_end => *last_end = (*last_end).max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}
