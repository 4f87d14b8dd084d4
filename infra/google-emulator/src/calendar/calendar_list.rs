//! `GET /calendar/v3/users/me/calendarList`.
//!
//! Contract: the caller's calendar-list entries, primary first then by id, in
//! pages of `maxResults` (default 100, capped at 250 as Google caps it) linked by
//! `nextPageToken`; `minAccessRole` filters. Entries carry Google's fields
//! (`kind`, `etag`, `id`, `summary`, `timeZone`, `accessRole`, colours,
//! `selected`, `conferenceProperties`, and `primary` only on the primary).

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{CALENDAR_LIST_SCOPES, authorize, max_results, page_offset, page_token};
use crate::config::AccessRole;
use crate::faults::{Endpoint, intercept};
use crate::google_errors::ApiError;
use crate::server::ConnectionControl;
use crate::state::SharedEmulator;
use emulator_kit::form::FormPairs;

const PAGE_KIND: &str = "calendarList";

pub(super) async fn list(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::CalendarList], &[]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let query = FormPairs::parse(query.unwrap_or_default().as_bytes());
    let response = match build_page(&emulator, &headers, &query) {
        Ok(page) => axum::Json(page).into_response(),
        Err(error) => error.into_response(),
    };
    after.deliver(&connection, response).await
}

fn build_page(emulator: &SharedEmulator, headers: &HeaderMap, query: &FormPairs) -> Result<Value, ApiError> {
    let store = emulator.store();
    let caller = authorize(&store, headers, CALENDAR_LIST_SCOPES)?;
    let single = |name: &str| query.single(name).map_err(|repeated| ApiError::invalid(repeated.to_string()));
    let page_size = max_results(single("maxResults")?, 100, 250)?;
    let offset = page_offset(PAGE_KIND, single("pageToken")?)?;
    let min_role = match single("minAccessRole")? {
        None => AccessRole::FreeBusyReader,
        Some(raw) => {
            AccessRole::parse(raw).ok_or_else(|| ApiError::invalid(format!("Invalid minAccessRole value: {raw}")))?
        }
    };

    let account = &store.accounts[&caller.account];
    let mut entries: Vec<_> = account
        .calendar_list
        .iter()
        .filter(|entry| entry.access_role >= min_role)
        .filter_map(|entry| Some((entry, store.calendars.get(&entry.calendar_id)?)))
        .collect();
    entries.sort_by(|(a, _), (b, _)| b.primary.cmp(&a.primary).then_with(|| a.calendar_id.cmp(&b.calendar_id)));
    if offset > entries.len() {
        return Err(ApiError::invalid("Invalid page token value."));
    }
    let etag = store.current_etag();
    let items: Vec<Value> = entries
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|(entry, calendar)| {
            let mut item = json!({
                "kind": "calendar#calendarListEntry",
                "etag": etag,
                "id": calendar.id,
                "summary": calendar.summary,
                "timeZone": calendar.time_zone,
                "colorId": "14",
                "backgroundColor": "#9fe1e7",
                "foregroundColor": "#000000",
                "selected": true,
                "accessRole": entry.access_role.as_str(),
                "defaultReminders": [],
                "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
            });
            if entry.primary {
                item["primary"] = json!(true);
            }
            item
        })
        .collect();
    let next = offset + items.len();
    let mut page = json!({
        "kind": "calendar#calendarList",
        "etag": etag,
        "items": items,
    });
    if next < entries.len() {
        page["nextPageToken"] = json!(page_token(PAGE_KIND, next));
    }
    Ok(page)
}
