//! Event resources: what a client may set, what the server owns, and when an
//! event happens.
//!
//! Contract: client bodies are kept verbatim except for the fields Google manages
//! itself ([`SERVER_MANAGED`]), which are ignored on input and filled in by the
//! emulator. Times follow Google's rules: `start`/`end` each carry exactly one of
//! `dateTime` (RFC 3339; without an offset it is read in the event's `timeZone`,
//! else the calendar's) or `date` (all-day, midnight in the calendar's zone, end
//! exclusive), and the end may not precede the start.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use crate::google_errors::ApiError;

/// Fields a client cannot set through insert, patch or update. `conferenceData`
/// is listed because it is only honoured through its own path
/// (`conferenceDataVersion=1`).
pub(super) const SERVER_MANAGED: &[&str] = &[
    "kind",
    "etag",
    "id",
    "htmlLink",
    "created",
    "updated",
    "iCalUID",
    "creator",
    "organizer",
    "hangoutLink",
    "conferenceData",
    "sequence",
];

/// A client-chosen event id: 5 to 1024 characters of lowercase base32hex
/// (`[a-v0-9]`), as Google requires.
pub(super) fn is_valid_client_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}

/// The body's fields a client may set.
pub(super) fn client_fields(body: &Map<String, Value>) -> Map<String, Value> {
    body.iter()
        .filter(|(name, _)| !SERVER_MANAGED.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Checks the enumerated fields and fills Google's defaults (status, attendee
/// response status, reminders, event type).
pub(super) fn validate_and_complete(resource: &mut Map<String, Value>) -> Result<(), ApiError> {
    match resource.get("status") {
        None | Some(Value::Null) => {
            resource.insert("status".into(), json!("confirmed"));
        }
        Some(Value::String(status)) if matches!(status.as_str(), "confirmed" | "tentative" | "cancelled") => {}
        Some(other) => return Err(ApiError::invalid(format!("Invalid status value: {other}"))),
    }
    match resource.get("transparency") {
        None | Some(Value::Null) => {}
        Some(Value::String(value)) if matches!(value.as_str(), "opaque" | "transparent") => {}
        Some(other) => {
            return Err(ApiError::invalid(format!("Invalid transparency value: {other}")));
        }
    }
    if let Some(attendees) = resource.get_mut("attendees") {
        let Value::Array(attendees) = attendees else {
            return Err(ApiError::invalid("attendees must be a list."));
        };
        for attendee in attendees {
            let Value::Object(attendee) = attendee else {
                return Err(ApiError::invalid("Each attendee must be an object."));
            };
            if !attendee.get("email").is_some_and(Value::is_string) {
                return Err(ApiError::required("Missing attendee email."));
            }
            attendee.entry("responseStatus").or_insert_with(|| json!("needsAction"));
        }
    }
    if let Some(properties) = resource.get("extendedProperties") {
        let well_formed = properties.as_object().is_some_and(|properties| {
            properties.iter().all(|(visibility, values)| {
                matches!(visibility.as_str(), "private" | "shared")
                    && values.as_object().is_some_and(|values| values.values().all(Value::is_string))
            })
        });
        if !well_formed {
            return Err(ApiError::invalid(
                "extendedProperties must be {\"private\": {..}, \"shared\": {..}} with string values.",
            ));
        }
    }
    resource.entry("reminders").or_insert_with(|| json!({"useDefault": true}));
    resource.entry("eventType").or_insert_with(|| json!("default"));
    Ok(())
}

/// When the event happens: `[start, end)`.
pub(crate) fn interval(
    resource: &Map<String, Value>,
    calendar_time_zone: &str,
) -> Result<(Timestamp, Timestamp), ApiError> {
    let start = instant(resource.get("start"), "start", calendar_time_zone)?;
    let end = instant(resource.get("end"), "end", calendar_time_zone)?;
    if end < start {
        return Err(ApiError::bad_request("timeRangeEmpty", "The specified time range is empty."));
    }
    Ok((start, end))
}

fn instant(value: Option<&Value>, which: &str, calendar_time_zone: &str) -> Result<Timestamp, ApiError> {
    let Some(value) = value.filter(|value| !value.is_null()) else {
        return Err(ApiError::required(format!("Missing {which} time.")));
    };
    let invalid = || ApiError::invalid(format!("Invalid {which} time."));
    let object = value.as_object().ok_or_else(invalid)?;
    let zone_name = object.get("timeZone").and_then(Value::as_str).unwrap_or(calendar_time_zone);
    let zone = || {
        TimeZone::get(zone_name)
            .map_err(|_| ApiError::invalid(format!("Invalid time zone definition for {which} time.")))
    };
    match (object.get("dateTime"), object.get("date")) {
        (Some(Value::String(date_time)), None) => {
            if let Ok(timestamp) = date_time.parse::<Timestamp>() {
                return Ok(timestamp);
            }
            let civil: DateTime = date_time.parse().map_err(|_| invalid())?;
            civil.to_zoned(zone()?).map(|zoned| zoned.timestamp()).map_err(|_| invalid())
        }
        (None, Some(Value::String(date))) => {
            let date: Date = date.parse().map_err(|_| invalid())?;
            date.to_zoned(zone()?).map(|zoned| zoned.timestamp()).map_err(|_| invalid())
        }
        (None, None) => Err(ApiError::required(format!("Missing {which} time."))),
        _ => Err(invalid()),
    }
}

/// Google's `htmlLink`: the event id and calendar id, base64 in `eid`.
pub(super) fn html_link(calendar_id: &str, event_id: &str) -> String {
    let eid = STANDARD_NO_PAD.encode(format!("{event_id} {calendar_id}"));
    format!("https://www.google.com/calendar/event?eid={eid}")
}

/// The RFC 3339 form Google uses for `created` and `updated`.
pub(super) fn google_time(timestamp: Timestamp) -> String {
    format!("{timestamp:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(start: Value, end: Value) -> Map<String, Value> {
        json!({"start": start, "end": end}).as_object().unwrap().clone()
    }

    #[test]
    fn client_ids_must_be_base32hex() {
        assert!(is_valid_client_id("abcde"));
        assert!(is_valid_client_id("0123456789abcdefghijklmnopqrstuv"));
        assert!(!is_valid_client_id("abcd"));
        assert!(!is_valid_client_id("abcdw"));
        assert!(!is_valid_client_id("ABCDE"));
        assert!(!is_valid_client_id("abc-de"));
        assert!(!is_valid_client_id(&"a".repeat(1025)));
    }

    #[test]
    fn offsets_zones_and_dates_resolve_to_instants() {
        let (start, end) = interval(
            &event(
                json!({"dateTime": "2030-01-01T10:00:00+01:00"}),
                json!({"dateTime": "2030-01-01T10:30:00", "timeZone": "UTC"}),
            ),
            "UTC",
        )
        .unwrap();
        assert_eq!(start.to_string(), "2030-01-01T09:00:00Z");
        assert_eq!(end.to_string(), "2030-01-01T10:30:00Z");

        let (start, end) =
            interval(&event(json!({"date": "2030-01-01"}), json!({"date": "2030-01-02"})), "UTC").unwrap();
        assert_eq!(end.duration_since(start).as_hours(), 24);
    }

    #[test]
    fn bad_times_are_refused_with_googles_reasons() {
        let reason = |start: Value, end: Value| interval(&event(start, end), "UTC").unwrap_err().reason;
        assert_eq!(
            reason(json!({"dateTime": "2030-01-01T10:00:00Z"}), json!({"dateTime": "2030-01-01T09:00:00Z"})),
            "timeRangeEmpty"
        );
        assert_eq!(reason(json!({"dateTime": "2030-01-01T10:00:00Z"}), Value::Null), "required");
        assert_eq!(
            reason(
                json!({"dateTime": "2030-01-01T10:00:00Z", "date": "2030-01-01"}),
                json!({"dateTime": "2030-01-01T11:00:00Z"})
            ),
            "invalid"
        );
        assert_eq!(reason(json!({"dateTime": "tomorrow"}), json!({"dateTime": "2030-01-01T11:00:00Z"})), "invalid");
    }
}
