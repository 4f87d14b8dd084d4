//! Google Calendar's event resource as calbridge writes and reads it: only the fields the
//! product uses (times, summary, private extended properties, attendees, conference).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use crate::ports::{ConferenceState, EventWrite, GoogleEvent};

/// The wire form of an [`EventWrite`].
pub(super) fn event_body(event: &EventWrite) -> serde_json::Value {
    let time = |at: Timestamp| {
        let mut value = serde_json::json!({ "dateTime": at });
        if let Some(zone) = &event.time_zone {
            value["timeZone"] = zone.clone().into();
        }
        value
    };
    let mut body = serde_json::json!({
        "start": time(event.start),
        "end": time(event.end),
        "summary": event.summary,
        "extendedProperties": { "private": event.private_properties },
    });
    if let Some(id) = &event.id {
        body["id"] = id.clone().into();
    }
    if let Some(status) = &event.status {
        body["status"] = status.clone().into();
    }
    if !event.attendee_emails.is_empty() {
        body["attendees"] = event.attendee_emails.iter().map(|email| serde_json::json!({ "email": email })).collect();
    }
    if let Some(request_id) = &event.conference_request_id {
        body["conferenceData"] = serde_json::json!({
            "createRequest": { "requestId": request_id, "conferenceSolutionKey": { "type": "hangoutsMeet" } }
        });
    }
    body
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventResource {
    id: String,
    #[serde(default)]
    status: String,
    start: Option<EventTime>,
    end: Option<EventTime>,
    summary: Option<String>,
    #[serde(default)]
    extended_properties: ExtendedProperties,
    conference_data: Option<ConferenceData>,
    hangout_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventTime {
    date_time: Option<Timestamp>,
}

#[derive(Deserialize, Default)]
struct ExtendedProperties {
    #[serde(default)]
    private: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConferenceData {
    create_request: Option<CreateRequest>,
    conference_id: Option<String>,
    #[serde(default)]
    entry_points: Vec<EntryPoint>,
}

#[derive(Deserialize)]
struct CreateRequest {
    status: Option<CreateStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStatus {
    status_code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryPoint {
    entry_point_type: String,
    uri: String,
}

impl From<EventResource> for GoogleEvent {
    fn from(resource: EventResource) -> Self {
        let conference = resource.conference_data.map(|data| {
            let video = data.entry_points.into_iter().find(|e| e.entry_point_type == "video").map(|e| e.uri);
            let code = data.create_request.and_then(|r| r.status).map(|s| s.status_code);
            match (code.as_deref(), video.or(resource.hangout_link), data.conference_id) {
                (Some("pending"), _, _) => ConferenceState::Pending,
                (Some("failure"), _, _) => ConferenceState::Failed,
                (_, Some(uri), Some(conference_id)) => ConferenceState::Ready { conference_id, uri },
                (_, _, _) => ConferenceState::Pending,
            }
        });
        GoogleEvent {
            id: resource.id,
            status: resource.status,
            start: resource.start.and_then(|t| t.date_time),
            end: resource.end.and_then(|t| t.date_time),
            summary: resource.summary,
            private_properties: resource.extended_properties.private,
            conference,
        }
    }
}
