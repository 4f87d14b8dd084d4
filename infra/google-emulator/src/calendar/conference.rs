//! Google Meet conferences requested through `conferenceData.createRequest`.
//!
//! Contract: only honoured with `conferenceDataVersion=1` (the caller checks).
//! A create request needs a `requestId` and `conferenceSolutionKey.type ==
//! "hangoutsMeet"`. One `requestId` names one conference per calendar, so
//! retrying a create returns the same conference. A new conference reports
//! `pending` in the write's answer and on the configured number of later
//! `events.get` calls, then `success` (with `conferenceId`, `conferenceSolution`,
//! a video `entryPoints` entry and the event's `hangoutLink`), or `failure` when a
//! `conference_failure` fault was queued at creation.

use serde_json::{Map, Value, json};

use crate::google_errors::ApiError;
use crate::random;
use crate::state::{Calendar, Conference};

const MEET_ICON: &str =
    "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png";

/// Applies a client's `conferenceData` to `resource`. `null` removes the
/// conference; data without a create request is stored as given (copying an
/// existing conference onto an event).
pub(super) fn apply_conference_data(
    calendar: &mut Calendar,
    resource: &mut Map<String, Value>,
    requested: &Value,
    new_conference_fails: impl FnOnce() -> bool,
    pending_polls: u32,
) -> Result<(), ApiError> {
    let requested = match requested {
        Value::Null => {
            resource.remove("conferenceData");
            resource.remove("hangoutLink");
            return Ok(());
        }
        Value::Object(requested) => requested,
        _ => return Err(ApiError::invalid("Invalid conferenceData value.")),
    };
    let Some(create) = requested.get("createRequest") else {
        resource.insert("conferenceData".into(), Value::Object(requested.clone()));
        return Ok(());
    };
    let request_id = create
        .get("requestId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::invalid("Invalid conference create request: missing requestId."))?;
    let solution = create.pointer("/conferenceSolutionKey/type").and_then(Value::as_str);
    if solution != Some("hangoutsMeet") {
        return Err(ApiError::invalid("Invalid conference type value."));
    }
    if current_request_id(resource) == Some(request_id) {
        // The event already carries this very request: nothing to create.
        return Ok(());
    }
    let conference = calendar
        .conferences
        .entry(request_id.to_owned())
        .or_insert_with(|| Conference {
            conference_id: random::meet_code(),
            fails: new_conference_fails(),
            polls_remaining: pending_polls,
        })
        .clone();
    if conference.polls_remaining == 0 {
        render_resolved(resource, request_id, &conference);
    } else {
        render_pending(resource, request_id);
    }
    Ok(())
}

/// One `events.get` of the event at `index`: a pending conference uses up one
/// pending poll, or resolves when none are left. Returns whether the stored
/// event changed.
pub(super) fn poll(calendar: &mut Calendar, index: usize) -> bool {
    let resource = &calendar.events[index].resource;
    let pending = field_at(resource, &["conferenceData", "createRequest", "status", "statusCode"])
        .and_then(Value::as_str)
        == Some("pending");
    let Some(request_id) = current_request_id(resource).filter(|_| pending).map(str::to_owned) else {
        return false;
    };
    let Some(conference) = calendar.conferences.get_mut(&request_id) else {
        return false;
    };
    if conference.polls_remaining > 0 {
        conference.polls_remaining -= 1;
        return false;
    }
    let conference = conference.clone();
    render_resolved(&mut calendar.events[index].resource, &request_id, &conference);
    true
}

fn current_request_id(resource: &Map<String, Value>) -> Option<&str> {
    field_at(resource, &["conferenceData", "createRequest", "requestId"]).and_then(Value::as_str)
}

/// The value at `path` below a resource's top-level fields.
fn field_at<'a>(resource: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(resource.get(*first)?, |value, name| value.get(*name))
}

fn create_request(request_id: &str, status: &str) -> Value {
    json!({
        "requestId": request_id,
        "conferenceSolutionKey": {"type": "hangoutsMeet"},
        "status": {"statusCode": status},
    })
}

fn render_pending(resource: &mut Map<String, Value>, request_id: &str) {
    resource.insert("conferenceData".into(), json!({"createRequest": create_request(request_id, "pending")}));
    resource.remove("hangoutLink");
}

fn render_resolved(resource: &mut Map<String, Value>, request_id: &str, conference: &Conference) {
    if conference.fails {
        resource.insert("conferenceData".into(), json!({"createRequest": create_request(request_id, "failure")}));
        resource.remove("hangoutLink");
        return;
    }
    let uri = format!("https://meet.google.com/{}", conference.conference_id);
    resource.insert(
        "conferenceData".into(),
        json!({
            "createRequest": create_request(request_id, "success"),
            "entryPoints": [{
                "entryPointType": "video",
                "uri": uri,
                "label": format!("meet.google.com/{}", conference.conference_id),
            }],
            "conferenceSolution": {
                "key": {"type": "hangoutsMeet"},
                "name": "Google Meet",
                "iconUri": MEET_ICON,
            },
            "conferenceId": conference.conference_id,
        }),
    );
    resource.insert("hangoutLink".into(), json!(uri));
}
