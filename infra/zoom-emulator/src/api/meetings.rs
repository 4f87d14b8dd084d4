//! Scheduled meetings: create, get, patch, delete, and the `start_url` they carry.
//!
//! Contract:
//! - `POST /users/{userId}/meetings` (the caller only, as `me`, id or email) →
//!   201 with the meeting (`id` int64, `uuid`, `host_id`, `host_email`, `topic`,
//!   `type` 2, `status`, `start_time` in UTC, `duration`, `timezone`, `agenda`,
//!   `created_at`, `password`, `encrypted_password`, `join_url`, `start_url`,
//!   `settings`). Only `type` 2 is served. Fields are validated as Zoom documents
//!   them: `start_time` required, `yyyy-MM-ddTHH:mm:ssZ` (UTC) or
//!   `yyyy-MM-ddTHH:mm:ss` (local to `timezone`); `duration` a positive integer
//!   of minutes; `timezone` an IANA name; `topic` at most 200 characters,
//!   `agenda` 2000; `password` at most 10 of `[A-Za-z0-9@_*-]`; the boolean
//!   `settings` (`waiting_room`, `join_before_host`, ...) booleans. Failures are
//!   400 code 300 "Validation Failed." with `errors`; a body that is not a JSON
//!   object is 400 code 300 too.
//! - `GET /users/{userId}/meetings` (the caller only) → 200, a page of the
//!   host's live meetings, oldest first, without `start_url` and with `agenda` cut
//!   to 250 characters; `type` `scheduled` (default) or `upcoming`, `page_size`
//!   1-300 (default 30), `next_page_token` only as this emulator issued it for the
//!   same `type` and `page_size` (else 400 code 300).
//! - `GET /meetings/{meetingId}` → 200, with a **fresh** `start_url` on every call;
//!   each embeds a new ZAK that expires `start_url_ttl` (2 h) after issue.
//! - `PATCH /meetings/{meetingId}` → 204 (same validation, settings merged key by key).
//! - `DELETE /meetings/{meetingId}` → 204; afterwards every call on it is 404 code 3001.
//! - A meeting another user hosts, or none, is 404 code 3001 "Meeting does not exist".
//! - Creates and updates count against the host's daily cap (Zoom: 100 per user
//!   per UTC day); over it → 429 code 429 with `Retry-After` set to the next
//!   00:00 UTC, as Zoom documents for daily limits.
//! - `GET /s/{meetingId}?zak=...` (the start URL) → 200 for a live ZAK of that
//!   meeting, 401 once it expired or the meeting is gone.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::users::own_user;
use super::{authorize, web_base};
use crate::faults::{Endpoint, intercept};
use crate::random;
use crate::server::ConnectionControl;
use crate::state::{Meeting, SharedEmulator, Store, Zak};
use crate::zoom_errors::ApiError;

const CREATE_SCOPES: [&str; 2] = ["meeting:write:meeting", "meeting:write"];
const READ_SCOPES: [&str; 2] = ["meeting:read:meeting", "meeting:read"];
const LIST_SCOPES: [&str; 2] = ["meeting:read:list_meetings", "meeting:read"];
/// Zoom's largest page of a user's meetings, and its default.
const MAX_PAGE_SIZE: usize = 300;
const DEFAULT_PAGE_SIZE: usize = 30;
/// Zoom cuts agendas to this many characters in lists.
const LISTED_AGENDA: usize = 250;
const UPDATE_SCOPES: [&str; 2] = ["meeting:update:meeting", "meeting:write"];
const DELETE_SCOPES: [&str; 2] = ["meeting:delete:meeting", "meeting:write"];

/// Settings Zoom documents as booleans, with the defaults a new meeting gets.
const BOOLEAN_SETTINGS: [(&str, bool); 6] = [
    ("host_video", false),
    ("participant_video", false),
    ("join_before_host", false),
    ("mute_upon_entry", false),
    ("waiting_room", false),
    ("meeting_authentication", false),
];

const INVALID_FIELD: &str = "Invalid field.";

pub(super) async fn create(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::MeetingsCreate]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let web = web_base(&emulator.config.web_base_url, &headers);
    let response = {
        let mut store = emulator.store();
        let created = (|| {
            let caller = authorize(&store, &headers, &CREATE_SCOPES)?;
            let host = own_user(&store, &caller.user, &user_id)?;
            let (host_id, host_email, host_timezone) = (host.id.clone(), host.email.clone(), host.timezone.clone());
            let fields = parse_object(&body)?;
            check_daily_cap(&store, &host_id, emulator.config.daily_meeting_cap)?;
            let mut resource = new_meeting(&host_id, &host_email, &host_timezone, &web);
            apply_fields(&mut resource, &fields, true)?;
            let id = resource["id"].as_i64().expect("new meetings carry an id");
            count_write(&mut store, &host_id);
            store.meetings.push(Meeting { id, host_email: host_email.clone(), resource, deleted: false });
            let ttl = emulator.config.start_url_ttl;
            Ok::<_, ApiError>(present(&mut store, id, &web, ttl))
        })();
        match created {
            Ok(resource) => (StatusCode::CREATED, axum::Json(resource)).into_response(),
            Err(error) => error.into_response(),
        }
    };
    after.deliver(&connection, response).await
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    page_size: Option<String>,
    next_page_token: Option<String>,
}

/// `next_page_token`: the query it continues and where, so a token only continues its own list.
fn page_token(kind: &str, page_size: usize, offset: usize) -> String {
    format!("{kind}.{page_size}.{offset}")
}

pub(super) async fn list(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::MeetingsList]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let response = {
        let store = emulator.store();
        let listed = (|| {
            let caller = authorize(&store, &headers, &LIST_SCOPES)?;
            let host = own_user(&store, &caller.user, &user_id)?;
            let kind = query.kind.as_deref().unwrap_or("scheduled");
            let mut errors = Vec::new();
            if !matches!(kind, "scheduled" | "upcoming") {
                errors.push(("type".to_owned(), INVALID_FIELD.to_owned()));
            }
            let page_size = match query.page_size.as_deref() {
                None => DEFAULT_PAGE_SIZE,
                Some(raw) => match raw.parse::<usize>() {
                    Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => size,
                    _ => {
                        errors.push(("page_size".to_owned(), INVALID_FIELD.to_owned()));
                        DEFAULT_PAGE_SIZE
                    }
                },
            };
            let offset = match query.next_page_token.as_deref().filter(|t| !t.is_empty()) {
                None => 0,
                Some(token) => {
                    let offset = token.rsplit_once('.').and_then(|(_, n)| n.parse::<usize>().ok());
                    match offset.filter(|offset| page_token(kind, page_size, *offset) == token) {
                        Some(offset) => offset,
                        None => {
                            errors.push(("next_page_token".to_owned(), INVALID_FIELD.to_owned()));
                            0
                        }
                    }
                }
            };
            if !errors.is_empty() {
                return Err(ApiError::validation_failed(errors));
            }
            let now = Timestamp::now();
            let mine: Vec<&Meeting> = store
                .meetings
                .iter()
                .filter(|m| !m.deleted && m.host_email == host.email)
                .filter(|m| {
                    kind == "scheduled"
                        || m.resource["start_time"]
                            .as_str()
                            .and_then(|t| t.parse::<Timestamp>().ok())
                            .is_some_and(|t| t >= now)
                })
                .collect();
            let page: Vec<Value> = mine
                .iter()
                .skip(offset)
                .take(page_size)
                .map(|meeting| {
                    let r = &meeting.resource;
                    let agenda: String = r["agenda"].as_str().unwrap_or_default().chars().take(LISTED_AGENDA).collect();
                    json!({
                        "uuid": r["uuid"], "id": r["id"], "host_id": r["host_id"], "topic": r["topic"],
                        "type": r["type"], "start_time": r["start_time"], "duration": r["duration"],
                        "timezone": r["timezone"], "agenda": agenda, "created_at": r["created_at"],
                        "join_url": r["join_url"],
                    })
                })
                .collect();
            let next = offset + page.len();
            let next_page_token = if next < mine.len() { page_token(kind, page_size, next) } else { String::new() };
            Ok::<_, ApiError>(json!({
                "page_size": page_size,
                "total_records": mine.len(),
                "next_page_token": next_page_token,
                "meetings": page,
            }))
        })();
        match listed {
            Ok(body) => axum::Json(body).into_response(),
            Err(error) => error.into_response(),
        }
    };
    after.deliver(&connection, response).await
}

pub(super) async fn get(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::MeetingsGet]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let web = web_base(&emulator.config.web_base_url, &headers);
    let response = {
        let mut store = emulator.store();
        let found = (|| {
            let caller = authorize(&store, &headers, &READ_SCOPES)?;
            let id = owned_meeting(&store, &caller.user, &meeting_id)?;
            Ok::<_, ApiError>(present(&mut store, id, &web, emulator.config.start_url_ttl))
        })();
        match found {
            Ok(resource) => axum::Json(resource).into_response(),
            Err(error) => error.into_response(),
        }
    };
    after.deliver(&connection, response).await
}

pub(super) async fn patch(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
    body: Bytes,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::MeetingsPatch]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let response = {
        let mut store = emulator.store();
        let patched = (|| {
            let caller = authorize(&store, &headers, &UPDATE_SCOPES)?;
            let id = owned_meeting(&store, &caller.user, &meeting_id)?;
            let fields = parse_object(&body)?;
            let host_id = store.users[&caller.user].id.clone();
            check_daily_cap(&store, &host_id, emulator.config.daily_meeting_cap)?;
            let meeting = store.meeting_mut(id).expect("owned_meeting found it");
            // Validate against a copy so a refused patch changes nothing.
            let mut updated = meeting.resource.clone();
            apply_fields(&mut updated, &fields, false)?;
            meeting.resource = updated;
            count_write(&mut store, &host_id);
            Ok::<_, ApiError>(())
        })();
        match patched {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(error) => error.into_response(),
        }
    };
    after.deliver(&connection, response).await
}

pub(super) async fn delete(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::MeetingsDelete]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let response = {
        let mut store = emulator.store();
        let deleted = (|| {
            let caller = authorize(&store, &headers, &DELETE_SCOPES)?;
            let id = owned_meeting(&store, &caller.user, &meeting_id)?;
            store.meeting_mut(id).expect("owned_meeting found it").deleted = true;
            Ok::<_, ApiError>(())
        })();
        match deleted {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(error) => error.into_response(),
        }
    };
    after.deliver(&connection, response).await
}

#[derive(Deserialize)]
pub(super) struct StartQuery {
    zak: Option<String>,
}

/// `GET /s/{meetingId}?zak=...`.
pub(super) async fn start(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    Path(meeting_id): Path<String>,
    Query(query): Query<StartQuery>,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::StartMeeting]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let response = {
        let store = emulator.store();
        let now = Timestamp::now();
        let live = meeting_id.parse::<i64>().ok().and_then(|id| {
            let zak = store.zaks.iter().find(|zak| Some(&zak.zak) == query.zak.as_ref() && zak.meeting_id == id)?;
            let meeting = store.meeting(id).filter(|meeting| !meeting.deleted)?;
            (now < zak.expires_at).then_some(meeting)
        });
        match live {
            Some(meeting) => Html(format!(
                "<!doctype html><title>Zoom (emulator)</title><p id=\"started\">Meeting {} started by {}</p>",
                meeting.id, meeting.host_email
            ))
            .into_response(),
            None => (
                StatusCode::UNAUTHORIZED,
                Html("<!doctype html><title>Zoom (emulator)</title><p id=\"error\">This start link is invalid or has expired.</p>"),
            )
                .into_response(),
        }
    };
    after.deliver(&connection, response).await
}

/// The id of a live meeting `caller` hosts; 404 3001 for anything else, so
/// another user's meeting is indistinguishable from none.
fn owned_meeting(store: &Store, caller: &str, raw_id: &str) -> Result<i64, ApiError> {
    raw_id
        .parse::<i64>()
        .ok()
        .and_then(|id| store.meeting(id))
        .filter(|meeting| !meeting.deleted && meeting.host_email == caller)
        .map(|meeting| meeting.id)
        .ok_or_else(|| ApiError::meeting_not_found(raw_id))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(ApiError::invalid_json()),
    }
}

fn next_utc_midnight(now: Timestamp) -> Timestamp {
    let today = now.to_zoned(TimeZone::UTC).date();
    today.tomorrow().ok().and_then(|day| day.to_zoned(TimeZone::UTC).ok()).map_or(Timestamp::MAX, |z| z.timestamp())
}

fn check_daily_cap(store: &Store, host_id: &str, cap: u32) -> Result<(), ApiError> {
    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    let used = store.daily_meeting_writes.get(&(host_id.to_owned(), today)).copied().unwrap_or(0);
    if used < cap {
        return Ok(());
    }
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        429,
        format!(
            "You have exceeded the daily rate limit ({cap}) of Meeting Create/Update API requests permitted for \
             this particular user. You may resume these requests at GMT 00:00:00."
        ),
    );
    error.headers = vec![
        ("x-ratelimit-category", "Medium".to_owned()),
        ("x-ratelimit-type", "Daily-limit".to_owned()),
        ("x-ratelimit-limit", cap.to_string()),
        ("x-ratelimit-remaining", "0".to_owned()),
        ("retry-after", utc_string(next_utc_midnight(Timestamp::now()))),
    ];
    Err(error)
}

fn count_write(store: &mut Store, host_id: &str) {
    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    *store.daily_meeting_writes.entry((host_id.to_owned(), today)).or_default() += 1;
}

fn utc_string(timestamp: Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn new_meeting(host_id: &str, host_email: &str, host_timezone: &str, web: &str) -> Map<String, Value> {
    let id = random::meeting_id();
    let password = random::passcode();
    let encrypted = random::encrypted_password();
    let settings: Map<String, Value> =
        BOOLEAN_SETTINGS.iter().map(|(name, default)| ((*name).to_owned(), json!(default))).collect();
    let mut settings = settings;
    settings.insert("approval_type".into(), json!(2));
    settings.insert("audio".into(), json!("voip"));
    settings.insert("auto_recording".into(), json!("none"));
    let Value::Object(resource) = json!({
        "uuid": random::meeting_uuid(),
        "id": id,
        "host_id": host_id,
        "host_email": host_email,
        "assistant_id": "",
        "topic": "Zoom meeting",
        "type": 2,
        "status": "waiting",
        "duration": 60,
        "timezone": host_timezone,
        "agenda": "",
        "created_at": utc_string(Timestamp::now()),
        "password": password,
        "h323_password": password,
        "pstn_password": password,
        "encrypted_password": encrypted,
        "join_url": format!("{web}/j/{id}?pwd={encrypted}"),
        "settings": settings,
        "pre_schedule": false,
    }) else {
        unreachable!("a JSON object literal")
    };
    resource
}

/// The stored meeting plus a `start_url` with a ZAK minted now.
fn present(store: &mut Store, id: i64, web: &str, ttl: std::time::Duration) -> Value {
    let meeting = store.meeting(id).expect("callers pass a stored meeting");
    let mut resource = meeting.resource.clone();
    let user = meeting.host_email.clone();
    let zak = random::zak();
    let ttl = SignedDuration::try_from(ttl).unwrap_or(SignedDuration::MAX);
    let expires_at = Timestamp::now().checked_add(ttl).unwrap_or(Timestamp::MAX);
    store.zaks.push(Zak { zak: zak.clone(), meeting_id: id, user, expires_at });
    resource.insert("start_url".into(), json!(format!("{web}/s/{id}?zak={zak}")));
    Value::Object(resource)
}

/// Validates `fields` and writes them into `resource`. `creating` makes
/// `start_time` required. All problems are reported together.
fn apply_fields(
    resource: &mut Map<String, Value>,
    fields: &Map<String, Value>,
    creating: bool,
) -> Result<(), ApiError> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut invalid = |field: &str| errors.push((field.to_owned(), INVALID_FIELD.to_owned()));

    match fields.get("type") {
        None => {}
        Some(value) if value.as_i64() == Some(2) => {}
        Some(_) => invalid("type"),
    }
    if let Some(value) = fields.get("topic") {
        match value.as_str() {
            Some(topic) if topic.chars().count() <= 200 => {
                resource.insert("topic".into(), json!(topic));
            }
            _ => invalid("topic"),
        }
    }
    if let Some(value) = fields.get("agenda") {
        match value.as_str() {
            Some(agenda) if agenda.chars().count() <= 2000 => {
                resource.insert("agenda".into(), json!(agenda));
            }
            _ => invalid("agenda"),
        }
    }
    if let Some(value) = fields.get("duration") {
        match value.as_u64() {
            Some(minutes) if minutes > 0 => {
                resource.insert("duration".into(), json!(minutes));
            }
            _ => invalid("duration"),
        }
    }
    if let Some(value) = fields.get("timezone") {
        match value.as_str() {
            Some(name) if TimeZone::get(name).is_ok() => {
                resource.insert("timezone".into(), json!(name));
            }
            _ => invalid("timezone"),
        }
    }
    if let Some(value) = fields.get("password") {
        let valid = |password: &str| {
            password.len() <= 10
                && password.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'@' | b'_' | b'*' | b'-'))
        };
        match value.as_str() {
            Some(password) if valid(password) => {
                for field in ["password", "h323_password", "pstn_password"] {
                    resource.insert(field.into(), json!(password));
                }
            }
            _ => invalid("password"),
        }
    }
    match fields.get("start_time") {
        None if creating => invalid("start_time"),
        None => {}
        Some(value) => {
            let timezone = resource.get("timezone").and_then(Value::as_str).unwrap_or("UTC").to_owned();
            match value.as_str().and_then(|raw| parse_start_time(raw, &timezone)) {
                Some(start) => {
                    resource.insert("start_time".into(), json!(utc_string(start)));
                }
                None => invalid("start_time"),
            }
        }
    }
    if let Some(value) = fields.get("settings") {
        match value.as_object() {
            Some(sent) => {
                let stored = resource.entry("settings").or_insert_with(|| json!({}));
                let stored = stored.as_object_mut().expect("settings are stored as an object");
                for (name, setting) in sent {
                    let boolean = BOOLEAN_SETTINGS.iter().any(|(known, _)| known == name);
                    if boolean && !setting.is_boolean() {
                        invalid(&format!("settings.{name}"));
                    } else {
                        stored.insert(name.clone(), setting.clone());
                    }
                }
            }
            None => invalid("settings"),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(ApiError::validation_failed(errors)) }
}

/// `yyyy-MM-ddTHH:mm:ssZ` (UTC) or `yyyy-MM-ddTHH:mm:ss` (local to `timezone`),
/// nothing else (no offsets, no fractions), as Zoom documents.
fn parse_start_time(raw: &str, timezone: &str) -> Option<Timestamp> {
    let shape_ok = |text: &str| {
        text.len() == 19
            && text.bytes().enumerate().all(|(index, byte)| match index {
                4 | 7 => byte == b'-',
                10 => byte == b'T',
                13 | 16 => byte == b':',
                _ => byte.is_ascii_digit(),
            })
    };
    let (local, utc) = match raw.strip_suffix('Z') {
        Some(local) => (local, true),
        None => (raw, false),
    };
    if !shape_ok(local) {
        return None;
    }
    let civil: DateTime = local.parse().ok()?;
    let zone = if utc { TimeZone::UTC } else { TimeZone::get(timezone).ok()? };
    civil.to_zoned(zone).ok().map(|zoned| zoned.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_take_only_zooms_two_shapes() {
        let utc = parse_start_time("2030-01-01T09:00:00Z", "Europe/Berlin").unwrap();
        assert_eq!(utc_string(utc), "2030-01-01T09:00:00Z");
        let local = parse_start_time("2030-01-01T09:00:00", "Europe/Berlin").unwrap();
        assert_eq!(utc_string(local), "2030-01-01T08:00:00Z");
        for bad in [
            "2030-01-01T09:00:00+01:00",
            "2030-01-01 09:00:00",
            "2030-01-01T09:00:00.000Z",
            "2030-13-01T09:00:00Z",
            "soon",
        ] {
            assert!(parse_start_time(bad, "UTC").is_none(), "{bad}");
        }
    }

    #[test]
    fn the_daily_cap_resets_at_the_next_utc_midnight() {
        let now: Timestamp = "2030-01-01T23:59:30Z".parse().unwrap();
        assert_eq!(utc_string(next_utc_midnight(now)), "2030-01-02T00:00:00Z");
    }
}
