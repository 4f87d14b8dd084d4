//! The Google Calendar v3 API over HTTPS: calendar list, FreeBusy and events.
//!
//! One HTTP exchange per call; retrying is the caller's policy ([`crate::usecases::retry`]). Responses
//! are classified into [`GoogleApiError`] from the status and Google's error body
//! (`{"error":{"errors":[{"reason":...}]}}`): 403 with a rate-limit reason is a rate limit, not
//! a permission problem, and `Retry-After` is kept. Bodies are never put into errors or logs.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use oauth2::AccessToken;
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::event_wire::{EventResource, event_body};
use crate::domain::Interval;
use crate::metrics::GoogleApi;
use crate::ports::{
    CalendarBusy, CalendarEntry, EventWrite, FreeBusyRequest, GoogleApiError, GoogleCalendar, GoogleEvent, SendUpdates,
};

/// Google FreeBusy's limit of calendars per call.
pub const MAX_CALENDARS_PER_CALL: usize = 50;
/// The longest window one FreeBusy call covers. Google documents no exact limit; windows of
/// this size are accepted in practice and keep a 62-day request at two calls per user.
pub const MAX_FREEBUSY_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(31 * 24);

/// `range` cut into consecutive windows FreeBusy accepts, each asked about every calendar of
/// `calendar_ids` in chunks Google accepts.
pub fn free_busy_requests(range: Interval, calendar_ids: &[String]) -> Vec<FreeBusyRequest> {
    let mut requests = Vec::new();
    let mut start = range.start;
    while start < range.end {
        let end = (start + MAX_FREEBUSY_WINDOW).min(range.end);
        let window = Interval { start, end };
        requests.extend(
            calendar_ids
                .chunks(MAX_CALENDARS_PER_CALL)
                .map(|chunk| FreeBusyRequest { window, calendar_ids: chunk.to_vec() }),
        );
        start = end;
    }
    requests
}

/// Google's largest calendarList page.
const CALENDAR_LIST_PAGE: &str = "250";
/// A guard against a server that keeps returning page tokens.
const MAX_PAGES: usize = 100;

pub struct GoogleCalendarClient {
    base: Url,
    http: reqwest::Client,
}

impl GoogleCalendarClient {
    /// `base` is the API root including `/calendar/v3`.
    pub fn new(base: Url, http: reqwest::Client) -> Self {
        Self { base, http }
    }

    /// `base` + `/` + the given path segments, each percent-encoded (calendar ids contain `@`
    /// and `#`).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("the API base is an http(s) URL").pop_if_empty().extend(segments);
        url
    }
}

fn transport(error: reqwest::Error) -> GoogleApiError {
    // `without_url`: request URLs can carry ids that need not reach the logs.
    GoogleApiError::Unavailable(Box::new(error.without_url()))
}

/// Turns a non-success response into the error it means.
pub(crate) async fn classify(response: Response) -> GoogleApiError {
    let super::Refusal { status, retry_after, reason } = super::Refusal::read(response).await;
    match status {
        StatusCode::UNAUTHORIZED => GoogleApiError::Unauthorized,
        StatusCode::TOO_MANY_REQUESTS => GoogleApiError::RateLimited { retry_after },
        StatusCode::FORBIDDEN if matches!(reason.as_str(), "rateLimitExceeded" | "userRateLimitExceeded") => {
            GoogleApiError::RateLimited { retry_after }
        }
        StatusCode::NOT_FOUND => GoogleApiError::NotFound,
        StatusCode::GONE => GoogleApiError::Gone,
        StatusCode::CONFLICT => GoogleApiError::Conflict { reason },
        s if s.is_server_error() => GoogleApiError::Unavailable(format!("google answered {s}").into()),
        s => GoogleApiError::Rejected { status: s.as_u16(), reason },
    }
}

/// Sends a request to `api`, counting the call by the class of its answer.
pub(crate) async fn send(api: GoogleApi, request: reqwest::RequestBuilder) -> Result<Response, GoogleApiError> {
    let sent = request.send().await;
    crate::metrics::google_answer(api, sent.as_ref().ok().map(|response| response.status().as_u16()));
    sent.map_err(transport)
}

/// Sends a request to `api` and parses a success body as `T`.
pub(crate) async fn send_json<T: DeserializeOwned>(
    api: GoogleApi,
    request: reqwest::RequestBuilder,
) -> Result<T, GoogleApiError> {
    let response = send(api, request).await?;
    if !response.status().is_success() {
        return Err(classify(response).await);
    }
    response.json::<T>().await.map_err(transport)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CalendarListPage {
    #[serde(default)]
    items: Vec<CalendarListItem>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CalendarListItem {
    id: String,
    #[serde(default)]
    summary: String,
    summary_override: Option<String>,
    #[serde(default)]
    primary: bool,
    access_role: String,
    time_zone: Option<String>,
}

#[derive(Deserialize)]
struct FreeBusyResponse {
    #[serde(default)]
    calendars: BTreeMap<String, FreeBusyCalendar>,
}

#[derive(Deserialize)]
struct FreeBusyCalendar {
    #[serde(default)]
    busy: Vec<FreeBusyPeriod>,
    #[serde(default)]
    errors: Vec<FreeBusyError>,
}

#[derive(Deserialize)]
struct FreeBusyPeriod {
    start: Timestamp,
    end: Timestamp,
}

#[derive(Deserialize)]
struct FreeBusyError {
    #[serde(default)]
    reason: String,
}

impl GoogleCalendarClient {
    /// `calendars/{calendar}/events[/{event}]`. `conference`: send `conferenceDataVersion=1`,
    /// without which Google neither creates nor reports conferences.
    fn event_url(
        &self,
        calendar_id: &str,
        event_id: Option<&str>,
        conference: bool,
        send_updates: Option<SendUpdates>,
    ) -> Url {
        let mut segments = vec!["calendars", calendar_id, "events"];
        segments.extend(event_id);
        let mut url = self.url(&segments);
        if conference {
            url.query_pairs_mut().append_pair("conferenceDataVersion", "1");
        }
        if let Some(send_updates) = send_updates {
            url.query_pairs_mut().append_pair("sendUpdates", send_updates.as_str());
        }
        url
    }
}

#[async_trait]
impl GoogleCalendar for GoogleCalendarClient {
    #[tracing::instrument(skip_all, name = "google.events_insert")]
    async fn insert_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event: &EventWrite,
        send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError> {
        let url = self.event_url(calendar_id, None, event.conference_request_id.is_some(), Some(send_updates));
        let resource: EventResource = send_json(
            GoogleApi::EventsInsert,
            self.http.post(url).bearer_auth(access_token.secret()).json(&event_body(event)),
        )
        .await?;
        Ok(resource.into())
    }

    #[tracing::instrument(skip_all, name = "google.events_get")]
    async fn get_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<GoogleEvent, GoogleApiError> {
        let url = self.event_url(calendar_id, Some(event_id), true, None);
        let resource: EventResource =
            send_json(GoogleApi::EventsGet, self.http.get(url).bearer_auth(access_token.secret())).await?;
        Ok(resource.into())
    }

    #[tracing::instrument(skip_all, name = "google.events_patch")]
    async fn patch_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        event: &EventWrite,
        send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError> {
        let url =
            self.event_url(calendar_id, Some(event_id), event.conference_request_id.is_some(), Some(send_updates));
        let mut body = event_body(event);
        if let Some(object) = body.as_object_mut() {
            object.remove("id");
        }
        let resource: EventResource =
            send_json(GoogleApi::EventsPatch, self.http.patch(url).bearer_auth(access_token.secret()).json(&body))
                .await?;
        Ok(resource.into())
    }

    #[tracing::instrument(skip_all, name = "google.events_delete")]
    async fn delete_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        send_updates: SendUpdates,
    ) -> Result<(), GoogleApiError> {
        let url = self.event_url(calendar_id, Some(event_id), false, Some(send_updates));
        let response = send(GoogleApi::EventsDelete, self.http.delete(url).bearer_auth(access_token.secret())).await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(classify(response).await)
    }

    #[tracing::instrument(skip_all, name = "google.calendar_list")]
    async fn list_calendars(&self, access_token: &AccessToken) -> Result<Vec<CalendarEntry>, GoogleApiError> {
        let mut entries = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = self.url(&["users", "me", "calendarList"]);
            url.query_pairs_mut().append_pair("maxResults", CALENDAR_LIST_PAGE);
            if let Some(token) = &page_token {
                url.query_pairs_mut().append_pair("pageToken", token);
            }
            let page: CalendarListPage =
                send_json(GoogleApi::CalendarList, self.http.get(url).bearer_auth(access_token.secret())).await?;
            entries.extend(page.items.into_iter().map(|item| CalendarEntry {
                id: item.id,
                summary: item.summary_override.unwrap_or(item.summary),
                primary: item.primary,
                access_role: item.access_role,
                time_zone: item.time_zone,
            }));
            match page.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => return Ok(entries),
            }
        }
        Err(GoogleApiError::Unavailable("calendarList kept returning page tokens".into()))
    }

    fn free_busy_requests(&self, range: Interval, calendar_ids: &[String]) -> Vec<FreeBusyRequest> {
        free_busy_requests(range, calendar_ids)
    }

    #[tracing::instrument(skip_all, name = "google.freebusy", fields(calendars = request.calendar_ids.len()))]
    async fn free_busy(
        &self,
        access_token: &AccessToken,
        request: &FreeBusyRequest,
    ) -> Result<BTreeMap<String, CalendarBusy>, GoogleApiError> {
        let (window, calendar_ids) = (request.window, &request.calendar_ids);
        let body = serde_json::json!({
            "timeMin": window.start,
            "timeMax": window.end,
            "items": calendar_ids.iter().map(|id| serde_json::json!({ "id": id })).collect::<Vec<_>>(),
        });
        let response: FreeBusyResponse = send_json(
            GoogleApi::FreeBusy,
            self.http.post(self.url(&["freeBusy"])).bearer_auth(access_token.secret()).json(&body),
        )
        .await?;
        let mut calendars = response.calendars;
        Ok(calendar_ids
            .iter()
            .map(|id| {
                // A calendar Google did not answer for is not "free": fail closed.
                let answer = match calendars.remove(id) {
                    None => CalendarBusy::Unreadable { reason: "missing".into() },
                    Some(calendar) if !calendar.errors.is_empty() => CalendarBusy::Unreadable {
                        reason: calendar.errors.into_iter().map(|e| e.reason).next().unwrap_or_default(),
                    },
                    Some(calendar) => CalendarBusy::Busy(
                        calendar.busy.into_iter().filter_map(|p| Interval::new(p.start, p.end).ok()).collect(),
                    ),
                };
                (id.clone(), answer)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn long_ranges_are_cut_into_accepted_windows_without_gaps() {
        let range = Interval { start: at("2026-12-01T00:00:00Z"), end: at("2027-02-01T00:00:00Z") };
        let windows: Vec<Interval> =
            free_busy_requests(range, &["primary".to_owned()]).into_iter().map(|r| r.window).collect();
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0].start, range.start);
        assert_eq!(windows[0].end, windows[1].start);
        assert_eq!(windows[1].end, range.end);
        assert!(windows.iter().all(|w| w.duration() <= MAX_FREEBUSY_WINDOW));
    }

    #[test]
    fn many_calendars_are_asked_in_chunks_google_accepts() {
        let range = Interval { start: at("2026-12-01T00:00:00Z"), end: at("2026-12-02T00:00:00Z") };
        let ids: Vec<String> = (0..MAX_CALENDARS_PER_CALL + 1).map(|i| format!("c{i}@example.com")).collect();
        let requests = free_busy_requests(range, &ids);
        assert_eq!(requests.iter().map(|r| r.calendar_ids.len()).collect::<Vec<_>>(), [MAX_CALENDARS_PER_CALL, 1]);
        assert!(requests.iter().all(|r| r.window == range));
        assert_eq!(requests.iter().flat_map(|r| r.calendar_ids.clone()).collect::<Vec<_>>(), ids);
    }
}
