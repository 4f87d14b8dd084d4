//! `calendars/{calendarId}/events`: insert, get, patch, update, delete, list.
//!
//! Contract: writes need `writer` on the calendar, reads `reader`. Insert keeps a
//! client-chosen `id` (base32hex, 5-1024 characters, else 400
//! `invalidResourceId`) and refuses one already used on the calendar, even by a
//! deleted event (409 `duplicate`). Patch merges top-level fields (`null` clears
//! one), update replaces the client fields; both bump `sequence`, `updated` and
//! `etag`. Delete marks the event `cancelled` (204) and a second delete is 410
//! `deleted`; get still returns cancelled events, and patching `status` back to
//! `confirmed` restores one. `conferenceData` is honoured only with
//! `conferenceDataVersion=1`. Every write is logged with its `sendUpdates` for
//! `GET /_emulator/writes`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::conference::{apply_conference_data, poll};
use super::event_resource::{
    client_fields, google_time, html_link, interval, is_valid_client_id, validate_and_complete,
};
use super::{
    EVENTS_READ_SCOPES, EVENTS_WRITE_SCOPES, authorize, calendar_with_access, fault_calendar_names, max_results,
    page_offset, page_token,
};
use crate::config::{AccessRole, EmulatorConfig};
use crate::control::ControlError;
use crate::faults::{Endpoint, intercept};
use crate::google_errors::ApiError;
use crate::random;
use crate::server::ConnectionControl;
use crate::state::{Caller, SharedEmulator, Store, StoredEvent, WriteRecord};
use emulator_kit::form::FormPairs;

const PAGE_KIND: &str = "events";

/// Runs one Calendar events call: count it, apply faults, authenticate, then
/// `work` under the store lock.
async fn handle(
    emulator: SharedEmulator,
    connection: ConnectionControl,
    headers: HeaderMap,
    endpoint: Endpoint,
    raw_calendar_id: &str,
    scopes: &[&str],
    work: impl FnOnce(&mut Store, &EmulatorConfig, Caller) -> Result<Response, ApiError>,
) -> Response {
    let names = fault_calendar_names(&emulator.store(), &headers, raw_calendar_id);
    let after = match intercept(&emulator, &connection, &[endpoint], &names).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let result = {
        let mut store = emulator.store();
        authorize(&store, &headers, scopes).and_then(|caller| work(&mut store, &emulator.config, caller))
    };
    let response = result.unwrap_or_else(IntoResponse::into_response);
    after.deliver(&connection, response).await
}

/// Query parameters every write understands.
struct WriteOptions {
    conference_data_version: u8,
    send_updates: Option<String>,
    send_notifications: Option<String>,
}

fn write_options(query: &FormPairs) -> Result<WriteOptions, ApiError> {
    let single = |name: &str| query.single(name).map_err(|repeated| ApiError::invalid(repeated.to_string()));
    let conference_data_version = match single("conferenceDataVersion")? {
        None | Some("0") => 0,
        Some("1") => 1,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid conferenceDataVersion value: {other}. Allowed values: 0, 1."
            )));
        }
    };
    let send_updates = match single("sendUpdates")? {
        None => None,
        Some(value @ ("all" | "externalOnly" | "none")) => Some(value.to_owned()),
        Some(other) => {
            return Err(ApiError::invalid(format!("Invalid sendUpdates value: {other}")));
        }
    };
    let send_notifications = match single("sendNotifications")? {
        None => None,
        Some(value @ ("true" | "false")) => Some(value.to_owned()),
        Some(other) => {
            return Err(ApiError::invalid(format!("Invalid sendNotifications value: {other}")));
        }
    };
    Ok(WriteOptions { conference_data_version, send_updates, send_notifications })
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::bad_request("parseError", "Parse Error")),
    }
}

fn record_write(store: &mut Store, endpoint: Endpoint, calendar_id: &str, event_id: &str, options: &WriteOptions) {
    store.writes.push(WriteRecord {
        endpoint,
        calendar_id: calendar_id.to_owned(),
        event_id: event_id.to_owned(),
        send_updates: options.send_updates.clone(),
        send_notifications: options.send_notifications.clone(),
        conference_data_version: options.conference_data_version,
        at: Timestamp::now(),
    });
}

fn event_index(store: &Store, calendar_id: &str, event_id: &str) -> Result<usize, ApiError> {
    store.calendars[calendar_id].events.iter().position(|event| event.id == event_id).ok_or_else(ApiError::not_found)
}

fn ok_json(resource: &Map<String, Value>) -> Response {
    (StatusCode::OK, axum::Json(Value::Object(resource.clone()))).into_response()
}

/// How an event enters the store.
enum Creation<'a> {
    /// Through `events.insert`, by `creator`.
    Api { creator: &'a str, conference_data_version: u8 },
    /// Through `POST /_emulator/calendars/{id}/events`: any non-empty id, and
    /// `conferenceData` stored as given.
    Seed,
}

fn create_event(
    store: &mut Store,
    conference_pending_polls: u32,
    calendar_id: &str,
    body: &Map<String, Value>,
    creation: Creation<'_>,
) -> Result<Map<String, Value>, ApiError> {
    let calendar = &store.calendars[calendar_id];
    let id = match body.get("id") {
        None | Some(Value::Null) => loop {
            let candidate = random::event_id();
            if calendar.event(&candidate).is_none() {
                break candidate;
            }
        },
        Some(Value::String(id)) if is_valid_client_id(id) || (matches!(creation, Creation::Seed) && !id.is_empty()) => {
            id.clone()
        }
        Some(_) => {
            return Err(ApiError::bad_request("invalidResourceId", "Invalid resource id value."));
        }
    };
    if calendar.event(&id).is_some() {
        return Err(ApiError::new(StatusCode::CONFLICT, "duplicate", "The requested identifier already exists."));
    }
    let mut resource = client_fields(body);
    validate_and_complete(&mut resource)?;
    interval(&resource, &calendar.time_zone)?;

    let now = google_time(Timestamp::now());
    let organizer = json!({
        "email": calendar.id,
        "displayName": calendar.summary,
        "self": true,
    });
    let creator = match creation {
        Creation::Api { creator, .. } => creator.to_owned(),
        Creation::Seed => calendar.id.clone(),
    };
    let sequence = body.get("sequence").and_then(Value::as_u64).unwrap_or_default();
    resource.insert("kind".into(), json!("calendar#event"));
    resource.insert("etag".into(), json!(store.next_etag()));
    resource.insert("id".into(), json!(id));
    resource.insert("htmlLink".into(), json!(html_link(calendar_id, &id)));
    resource.insert("created".into(), json!(now));
    resource.insert("updated".into(), json!(now));
    resource.insert("iCalUID".into(), json!(format!("{id}@google.com")));
    resource.insert("sequence".into(), json!(sequence));
    resource.insert("creator".into(), json!({"email": creator, "self": true}));
    resource.insert("organizer".into(), organizer);

    match creation {
        Creation::Api { conference_data_version: 1, .. } => {
            if let Some(requested) = body.get("conferenceData") {
                let Store { calendars, faults, .. } = store;
                let names = [calendar_id.to_owned()];
                apply_conference_data(
                    calendars.get_mut(calendar_id).expect("checked by the caller"),
                    &mut resource,
                    requested,
                    || faults.take_conference_failure(Endpoint::EventsInsert, &names),
                    conference_pending_polls,
                )?;
            }
        }
        // Version 0 ignores conferenceData, as Google does.
        Creation::Api { .. } => {}
        Creation::Seed => {
            for field in ["conferenceData", "hangoutLink"] {
                if let Some(value) = body.get(field) {
                    resource.insert(field.into(), value.clone());
                }
            }
        }
    }

    store
        .calendars
        .get_mut(calendar_id)
        .expect("checked by the caller")
        .events
        .push(StoredEvent { id, resource: resource.clone() });
    Ok(resource)
}

/// `POST .../events`.
pub(super) async fn insert(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    Path(raw_calendar_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = FormPairs::parse(query.unwrap_or_default().as_bytes());
    handle(
        emulator,
        connection,
        headers,
        Endpoint::EventsInsert,
        &raw_calendar_id.clone(),
        EVENTS_WRITE_SCOPES,
        move |store, config, caller| {
            let options = write_options(&query)?;
            let calendar_id = calendar_with_access(store, &caller, &raw_calendar_id, AccessRole::Writer)?;
            let body = parse_object(&body)?;
            let resource = create_event(
                store,
                config.conference_pending_polls,
                &calendar_id,
                &body,
                Creation::Api { creator: &caller.account, conference_data_version: options.conference_data_version },
            )?;
            let event_id = resource["id"].as_str().unwrap_or_default().to_owned();
            record_write(store, Endpoint::EventsInsert, &calendar_id, &event_id, &options);
            Ok(ok_json(&resource))
        },
    )
    .await
}

/// `GET .../events/{eventId}`.
pub(super) async fn get(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    Path((raw_calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    handle(
        emulator,
        connection,
        headers,
        Endpoint::EventsGet,
        &raw_calendar_id.clone(),
        EVENTS_READ_SCOPES,
        move |store, _config, caller| {
            let calendar_id = calendar_with_access(store, &caller, &raw_calendar_id, AccessRole::Reader)?;
            let index = event_index(store, &calendar_id, &event_id)?;
            let calendar = store.calendars.get_mut(&calendar_id).expect("resolved above");
            if poll(calendar, index) {
                let etag = store.next_etag();
                let calendar = store.calendars.get_mut(&calendar_id).expect("resolved above");
                calendar.events[index].resource.insert("etag".into(), json!(etag));
            }
            Ok(ok_json(&store.calendars[&calendar_id].events[index].resource))
        },
    )
    .await
}

/// A patch or update of one event, as requested.
struct Rewrite {
    endpoint: Endpoint,
    raw_calendar_id: String,
    event_id: String,
    query: FormPairs,
    body: Bytes,
}

/// Shared by patch (merge into the stored client fields) and update (replace them).
fn rewrite_event(
    store: &mut Store,
    config: &EmulatorConfig,
    caller: &Caller,
    rewrite: &Rewrite,
) -> Result<Response, ApiError> {
    let Rewrite { endpoint, raw_calendar_id, event_id, query, body } = rewrite;
    let endpoint = *endpoint;
    let options = write_options(query)?;
    let calendar_id = calendar_with_access(store, caller, raw_calendar_id, AccessRole::Writer)?;
    let index = event_index(store, &calendar_id, event_id)?;
    let body = parse_object(body)?;
    let calendar = &store.calendars[&calendar_id];
    let old = &calendar.events[index].resource;

    let mut resource = match endpoint {
        Endpoint::EventsPatch => {
            let mut merged = old.clone();
            for (name, value) in client_fields(&body) {
                if value.is_null() {
                    merged.remove(&name);
                } else {
                    merged.insert(name, value);
                }
            }
            merged
        }
        _ => {
            let mut replaced = client_fields(&body);
            for kept in ["kind", "id", "htmlLink", "created", "iCalUID", "creator", "organizer"] {
                if let Some(value) = old.get(kept) {
                    replaced.insert(kept.into(), value.clone());
                }
            }
            // Without conferenceDataVersion=1 a full update leaves the conference alone.
            if options.conference_data_version == 0 || body.contains_key("conferenceData") {
                for kept in ["conferenceData", "hangoutLink"] {
                    if let Some(value) = old.get(kept) {
                        replaced.insert(kept.into(), value.clone());
                    }
                }
            }
            replaced
        }
    };
    validate_and_complete(&mut resource)?;
    interval(&resource, &calendar.time_zone)?;
    let sequence = old.get("sequence").and_then(Value::as_u64).unwrap_or_default() + 1;

    if let (1, Some(requested)) = (options.conference_data_version, body.get("conferenceData")) {
        let Store { calendars, faults, .. } = &mut *store;
        let names = [calendar_id.clone()];
        apply_conference_data(
            calendars.get_mut(&calendar_id).expect("resolved above"),
            &mut resource,
            requested,
            || faults.take_conference_failure(endpoint, &names),
            config.conference_pending_polls,
        )?;
    }
    resource.insert("sequence".into(), json!(sequence));
    resource.insert("updated".into(), json!(google_time(Timestamp::now())));
    resource.insert("etag".into(), json!(store.next_etag()));
    store.calendars.get_mut(&calendar_id).expect("resolved above").events[index].resource = resource.clone();
    record_write(store, endpoint, &calendar_id, event_id, &options);
    Ok(ok_json(&resource))
}

/// `PATCH .../events/{eventId}`.
pub(super) async fn patch(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    Path((raw_calendar_id, event_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rewrite = Rewrite {
        endpoint: Endpoint::EventsPatch,
        raw_calendar_id,
        event_id,
        query: FormPairs::parse(query.unwrap_or_default().as_bytes()),
        body,
    };
    run_rewrite(emulator, connection, headers, rewrite).await
}

/// `PUT .../events/{eventId}`.
pub(super) async fn update(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    Path((raw_calendar_id, event_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rewrite = Rewrite {
        endpoint: Endpoint::EventsUpdate,
        raw_calendar_id,
        event_id,
        query: FormPairs::parse(query.unwrap_or_default().as_bytes()),
        body,
    };
    run_rewrite(emulator, connection, headers, rewrite).await
}

async fn run_rewrite(
    emulator: SharedEmulator,
    connection: ConnectionControl,
    headers: HeaderMap,
    rewrite: Rewrite,
) -> Response {
    let raw_calendar_id = rewrite.raw_calendar_id.clone();
    handle(
        emulator,
        connection,
        headers,
        rewrite.endpoint,
        &raw_calendar_id,
        EVENTS_WRITE_SCOPES,
        move |store, config, caller| rewrite_event(store, config, &caller, &rewrite),
    )
    .await
}

/// `DELETE .../events/{eventId}`.
pub(super) async fn delete(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    Path((raw_calendar_id, event_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = FormPairs::parse(query.unwrap_or_default().as_bytes());
    handle(
        emulator,
        connection,
        headers,
        Endpoint::EventsDelete,
        &raw_calendar_id.clone(),
        EVENTS_WRITE_SCOPES,
        move |store, _config, caller| {
            let options = write_options(&query)?;
            let calendar_id = calendar_with_access(store, &caller, &raw_calendar_id, AccessRole::Writer)?;
            let index = event_index(store, &calendar_id, &event_id)?;
            if store.calendars[&calendar_id].events[index].is_cancelled() {
                return Err(ApiError::new(StatusCode::GONE, "deleted", "Resource has been deleted"));
            }
            let etag = store.next_etag();
            let resource = &mut store.calendars.get_mut(&calendar_id).expect("resolved above").events[index].resource;
            resource.insert("status".into(), json!("cancelled"));
            resource.insert("updated".into(), json!(google_time(Timestamp::now())));
            resource.insert("etag".into(), json!(etag));
            record_write(store, Endpoint::EventsDelete, &calendar_id, &event_id, &options);
            Ok(StatusCode::NO_CONTENT.into_response())
        },
    )
    .await
}

/// `GET .../events`: a convenience subset of events.list (`timeMin`, `timeMax`,
/// `showDeleted`, `maxResults`, `pageToken`, `iCalUID`, `privateExtendedProperty`,
/// `sharedExtendedProperty`, `orderBy=startTime` with `singleEvents=true`).
pub(super) async fn list(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    Path(raw_calendar_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = FormPairs::parse(query.unwrap_or_default().as_bytes());
    handle(
        emulator,
        connection,
        headers,
        Endpoint::EventsList,
        &raw_calendar_id.clone(),
        EVENTS_READ_SCOPES,
        move |store, _config, caller| {
            let calendar_id = calendar_with_access(store, &caller, &raw_calendar_id, AccessRole::Reader)?;
            let role = store.access_role(&caller.account, &calendar_id).unwrap_or(AccessRole::Reader);
            list_page(store, &calendar_id, role, &query).map(|page| axum::Json(page).into_response())
        },
    )
    .await
}

fn list_page(store: &Store, calendar_id: &str, role: AccessRole, query: &FormPairs) -> Result<Value, ApiError> {
    let single = |name: &str| query.single(name).map_err(|repeated| ApiError::invalid(repeated.to_string()));
    let bound = |name: &str| -> Result<Option<Timestamp>, ApiError> {
        single(name)?
            .map(|raw| raw.parse::<Timestamp>().map_err(|_| ApiError::invalid(format!("Invalid {name} value: {raw}"))))
            .transpose()
    };
    let time_min = bound("timeMin")?;
    let time_max = bound("timeMax")?;
    let show_deleted = single("showDeleted")? == Some("true");
    let page_size = max_results(single("maxResults")?, 250, 2500)?;
    let offset = page_offset(PAGE_KIND, single("pageToken")?)?;
    let ical_uid = single("iCalUID")?;
    let order_by_start = match single("orderBy")? {
        None | Some("updated") => false,
        Some("startTime") if single("singleEvents")? == Some("true") => true,
        Some("startTime") => {
            return Err(ApiError::invalid("The requested ordering is not available for the particular query."));
        }
        Some(other) => return Err(ApiError::invalid(format!("Invalid orderBy value: {other}"))),
    };
    let property_filters = |parameter: &'static str, visibility: &'static str| {
        query
            .all(parameter)
            .map(move |raw| {
                raw.split_once('=')
                    .map(|(key, value)| (visibility, key.to_owned(), value.to_owned()))
                    .ok_or_else(|| ApiError::invalid(format!("Invalid {parameter} value: {raw}")))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let mut filters = property_filters("privateExtendedProperty", "private")?;
    filters.extend(property_filters("sharedExtendedProperty", "shared")?);

    let calendar = &store.calendars[calendar_id];
    let mut matching: Vec<(Timestamp, &StoredEvent)> = calendar
        .events
        .iter()
        .filter(|event| show_deleted || !event.is_cancelled())
        .filter(|event| ical_uid.is_none_or(|uid| event.resource.get("iCalUID").and_then(Value::as_str) == Some(uid)))
        .filter(|event| {
            filters.iter().all(|(visibility, key, value)| {
                event
                    .resource
                    .get("extendedProperties")
                    .and_then(|properties| properties.get(*visibility))
                    .and_then(|properties| properties.get(key))
                    .and_then(Value::as_str)
                    == Some(value.as_str())
            })
        })
        .filter_map(|event| {
            let (start, end) = interval(&event.resource, &calendar.time_zone).ok()?;
            let after_min = time_min.is_none_or(|min| end > min);
            let before_max = time_max.is_none_or(|max| start < max);
            (after_min && before_max).then_some((start, event))
        })
        .collect();
    if order_by_start {
        matching.sort_by_key(|(start, _)| *start);
    }
    if offset > matching.len() {
        return Err(ApiError::invalid("Invalid page token value."));
    }
    let items: Vec<Value> =
        matching.iter().skip(offset).take(page_size).map(|(_, event)| Value::Object(event.resource.clone())).collect();
    let next = offset + items.len();
    let mut page = json!({
        "kind": "calendar#events",
        "etag": store.current_etag(),
        "summary": calendar.summary,
        "updated": google_time(Timestamp::now()),
        "timeZone": calendar.time_zone,
        "accessRole": role.as_str(),
        "defaultReminders": [],
        "items": items,
    });
    if next < matching.len() {
        page["nextPageToken"] = json!(page_token(PAGE_KIND, next));
    }
    Ok(page)
}

/// Stores seed events on `calendar_id`, bypassing OAuth.
pub(super) fn seed(store: &mut Store, calendar_id: &str, events: Vec<Value>) -> Result<Vec<Value>, ControlError> {
    if !store.calendars.contains_key(calendar_id) {
        return Err(ControlError::UnknownCalendar(calendar_id.to_owned()));
    }
    let mut stored = Vec::with_capacity(events.len());
    for event in events {
        let Value::Object(body) = event else {
            return Err(ControlError::Event("each event must be a JSON object".into()));
        };
        let resource = create_event(store, 0, calendar_id, &body, Creation::Seed)
            .map_err(|error| ControlError::Event(error.message))?;
        stored.push(Value::Object(resource));
    }
    Ok(stored)
}
