//! Google Calendar v3 under `/calendar/v3`: calendarList, freeBusy and events.
//!
//! Contract: every call needs a live Bearer access token (else 401 in Google's
//! shape) carrying one of the endpoint's accepted scopes (else 403
//! `insufficientPermissions`). `primary` names the caller's primary calendar;
//! calendar ids in paths are percent-decoded. A calendar the caller has no
//! calendar-list entry for does not exist for them (404 `notFound`). Reads need
//! `reader`, writes `writer` (else 403 `requiredAccessLevel`).

mod calendar_list;
mod conference;
mod event_resource;
mod events;
mod freebusy;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::Value;

use crate::config::AccessRole;
use crate::control::ControlError;
use crate::google_errors::ApiError;
use crate::oauth::bearer_token;
use crate::oauth::scopes::grants_any;
use crate::state::{Caller, SharedEmulator, Store};

pub(crate) fn routes() -> Router<SharedEmulator> {
    Router::new()
        .route("/calendar/v3/users/me/calendarList", get(calendar_list::list))
        .route("/calendar/v3/freeBusy", post(freebusy::query))
        .route("/calendar/v3/calendars/{calendar_id}/events", get(events::list).post(events::insert))
        .route(
            "/calendar/v3/calendars/{calendar_id}/events/{event_id}",
            get(events::get).patch(events::patch).put(events::update).delete(events::delete),
        )
}

/// Scopes (below `https://www.googleapis.com/auth/`) any one of which opens an endpoint.
pub(super) const CALENDAR_LIST_SCOPES: &[&str] =
    &["calendar.calendarlist.readonly", "calendar.calendarlist", "calendar.readonly", "calendar"];
pub(super) const FREEBUSY_SCOPES: &[&str] =
    &["calendar.events.freebusy", "calendar.freebusy", "calendar.readonly", "calendar"];
pub(super) const EVENTS_WRITE_SCOPES: &[&str] = &["calendar.events", "calendar"];
/// Google also lets read-only scopes read events.
pub(super) const EVENTS_READ_SCOPES: &[&str] =
    &["calendar.events", "calendar", "calendar.events.readonly", "calendar.readonly"];

/// The caller behind the request's Bearer token, with one of `accepted` granted.
pub(super) fn authorize(store: &Store, headers: &HeaderMap, accepted: &[&str]) -> Result<Caller, ApiError> {
    let caller = bearer_token(headers)
        .and_then(|token| store.authenticate(token, Timestamp::now()))
        .ok_or_else(ApiError::invalid_credentials)?;
    if !grants_any(&caller.scopes, accepted) {
        return Err(ApiError::insufficient_scopes());
    }
    Ok(caller)
}

/// The names a fault's `calendar_id` filter may use for this request's calendar:
/// the id as written in the path and, when the token is good, what it resolves to.
pub(super) fn fault_calendar_names(store: &Store, headers: &HeaderMap, raw: &str) -> Vec<String> {
    let mut names = vec![raw.to_owned()];
    let resolved = bearer_token(headers)
        .and_then(|token| store.authenticate(token, Timestamp::now()))
        .map(|caller| store.resolve_calendar_id(&caller.account, raw));
    if let Some(resolved) = resolved.filter(|resolved| resolved != raw) {
        names.push(resolved);
    }
    names
}

/// The calendar id `raw` names for `caller`, if `caller` has at least `needed` on it.
pub(super) fn calendar_with_access(
    store: &Store,
    caller: &Caller,
    raw: &str,
    needed: AccessRole,
) -> Result<String, ApiError> {
    let calendar_id = store.resolve_calendar_id(&caller.account, raw);
    let role = store
        .access_role(&caller.account, &calendar_id)
        .filter(|_| store.calendars.contains_key(&calendar_id))
        .ok_or_else(ApiError::not_found)?;
    if role < needed {
        let wanted = if needed >= AccessRole::Writer { "writer" } else { "reader" };
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "requiredAccessLevel",
            format!("You need to have {wanted} access to this calendar."),
        ));
    }
    Ok(calendar_id)
}

/// An opaque page token for "continue at `offset`" in a listing called `kind`.
pub(super) fn page_token(kind: &str, offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{offset}"))
}

/// The offset a page token from [`page_token`] stands for.
pub(super) fn page_offset(kind: &str, token: Option<&str>) -> Result<usize, ApiError> {
    let Some(token) = token else { return Ok(0) };
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.strip_prefix(kind).and_then(|rest| rest.strip_prefix(':')).and_then(|offset| offset.parse().ok())
        })
        .ok_or_else(|| ApiError::invalid("Invalid page token value."))
}

/// `maxResults`: a positive integer, capped at `cap` as Google caps it.
pub(super) fn max_results(raw: Option<&str>, default: usize, cap: usize) -> Result<usize, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(0) | Err(_) => Err(ApiError::invalid(format!(
                "Invalid value '{raw}'. Values must match the following regular expression: '[0-9]+' and be at least 1"
            ))),
            Ok(n) => Ok(n.min(cap)),
        },
    }
}

/// `POST /_emulator/calendars/{id}/events`: stores events without OAuth.
pub(crate) fn seed_events(
    store: &mut Store,
    calendar_id: &str,
    events: Vec<Value>,
) -> Result<Vec<Value>, ControlError> {
    events::seed(store, calendar_id, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_are_bound_to_their_listing() {
        let token = page_token("calendarList", 7);
        assert_eq!(page_offset("calendarList", Some(&token)).unwrap(), 7);
        assert!(page_offset("events", Some(&token)).is_err());
        assert!(page_offset("calendarList", Some("garbage")).is_err());
        assert_eq!(page_offset("calendarList", None).unwrap(), 0);
    }

    #[test]
    fn max_results_is_capped_and_must_be_positive() {
        assert_eq!(max_results(None, 100, 250).unwrap(), 100);
        assert_eq!(max_results(Some("1000"), 100, 250).unwrap(), 250);
        assert!(max_results(Some("0"), 100, 250).is_err());
        assert!(max_results(Some("x"), 100, 250).is_err());
    }
}
