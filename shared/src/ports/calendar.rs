//! The Google Calendar v3 API, as calbridge uses it: the calendar list, FreeBusy, and the
//! events it writes. This port is Google's (other providers' calendars get their own).
//!
//! Contract: one HTTP exchange per call (retries and token refresh are the caller's policy,
//! see [`crate::usecases::calendar_session`]); failures are classified into
//! [`GoogleApiError`]. How a long range or many calendars are cut into FreeBusy requests is
//! Google's limit and so the adapter's answer ([`GoogleCalendar::free_busy_requests`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use oauth2::AccessToken;

use super::ConnectionRecord;
use crate::domain::Interval;

/// Google's alias for the user's own main calendar.
pub const PRIMARY_CALENDAR: &str = "primary";

/// How a Google API call failed, classified for retrying and for the client's answer.
#[derive(Debug, thiserror::Error)]
pub enum GoogleApiError {
    /// 401: the access token is expired or revoked. Refresh once, then give up.
    #[error("google rejected the access token")]
    Unauthorized,
    /// 429, or 403 with reason `rateLimitExceeded` / `userRateLimitExceeded`.
    #[error("google rate limit")]
    RateLimited { retry_after: Option<std::time::Duration> },
    /// 5xx, timeouts, connection failures, unparseable bodies.
    #[error("google unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 404.
    #[error("not found at google")]
    NotFound,
    /// 410: the resource was deleted.
    #[error("deleted at google")]
    Gone,
    /// 409 (e.g. reason `duplicate` on an insert with a client-chosen id).
    #[error("conflict at google ({reason})")]
    Conflict { reason: String },
    /// Any other 4xx (e.g. 400 bad request, 403 insufficient permissions).
    #[error("google refused the request ({status} {reason})")]
    Rejected { status: u16, reason: String },
}

impl GoogleApiError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, GoogleApiError::RateLimited { .. } | GoogleApiError::Unavailable(_))
    }
}

/// One entry of the user's calendar list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEntry {
    pub id: String,
    pub summary: String,
    pub primary: bool,
    /// `owner`, `writer`, `reader` or `freeBusyReader`.
    pub access_role: String,
    pub time_zone: Option<String>,
}

impl CalendarEntry {
    /// Whether events can be written to this calendar.
    pub fn is_writable(&self) -> bool {
        matches!(self.access_role.as_str(), "owner" | "writer")
    }
}

impl ConnectionRecord {
    /// The calendar that receives the user's events: the selected one, else the primary.
    pub fn target_calendar(&self) -> String {
        self.selected_calendar_id.clone().unwrap_or_else(|| PRIMARY_CALENDAR.to_owned())
    }

    /// The calendars whose busy time makes the user busy: the selected one and the primary.
    pub fn busy_calendars(&self) -> Vec<String> {
        let mut ids = Vec::with_capacity(2);
        ids.extend(self.selected_calendar_id.clone());
        if !ids.iter().any(|id| id == PRIMARY_CALENDAR) {
            ids.push(PRIMARY_CALENDAR.to_owned());
        }
        ids
    }
}

/// One FreeBusy request: a window and the calendars asked about in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyRequest {
    pub window: Interval,
    pub calendar_ids: Vec<String>,
}

/// FreeBusy's answer for one calendar: its busy intervals, or the reason it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarBusy {
    Busy(Vec<Interval>),
    Unreadable { reason: String },
}

/// An event as calbridge writes it: only what the product needs, nothing about patients or
/// clients unless the app explicitly allows titles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventWrite {
    /// A client-chosen id (base32hex, 5-1024 characters) makes inserts idempotent.
    pub id: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// IANA zone the event is shown in.
    pub time_zone: Option<String>,
    pub summary: String,
    /// `extendedProperties.private`: links the event back to calbridge's records.
    pub private_properties: BTreeMap<String, String>,
    pub attendee_emails: Vec<String>,
    /// Asks Google to create a Meet conference with this request id.
    pub conference_request_id: Option<String>,
    /// `confirmed` (also restores a cancelled event on patch).
    pub status: Option<String>,
}

/// Where a Meet conference stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConferenceState {
    Pending,
    Ready { conference_id: String, uri: String },
    Failed,
}

/// An event as Google returned it (the fields calbridge reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEvent {
    pub id: String,
    /// `confirmed`, `tentative` or `cancelled`.
    pub status: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub summary: Option<String>,
    pub private_properties: BTreeMap<String, String>,
    pub conference: Option<ConferenceState>,
}

/// Whom Google notifies about a change (`sendUpdates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendUpdates {
    All,
    ExternalOnly,
    #[default]
    None,
}

impl SendUpdates {
    pub fn as_str(self) -> &'static str {
        match self {
            SendUpdates::All => "all",
            SendUpdates::ExternalOnly => "externalOnly",
            SendUpdates::None => "none",
        }
    }
}

#[async_trait]
pub trait GoogleCalendar: Send + Sync {
    /// The user's calendar list, all pages.
    async fn list_calendars(&self, access_token: &AccessToken) -> Result<Vec<CalendarEntry>, GoogleApiError>;

    /// The FreeBusy requests that together cover `range` for `calendar_ids`, each within
    /// Google's limits (no I/O).
    fn free_busy_requests(&self, range: Interval, calendar_ids: &[String]) -> Vec<FreeBusyRequest>;

    /// Busy intervals of one request from [`GoogleCalendar::free_busy_requests`], keyed by
    /// the calendar ids as requested.
    async fn free_busy(
        &self,
        access_token: &AccessToken,
        request: &FreeBusyRequest,
    ) -> Result<BTreeMap<String, CalendarBusy>, GoogleApiError>;

    /// `events.insert`. A duplicate client-chosen id is [`GoogleApiError::Conflict`].
    async fn insert_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event: &EventWrite,
        send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError>;

    /// `events.get` (cancelled events are returned with status `cancelled`).
    async fn get_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<GoogleEvent, GoogleApiError>;

    /// `events.patch` with every field of `event` (its `id` is ignored).
    async fn patch_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        event: &EventWrite,
        send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError>;

    /// `events.delete`; an already deleted event is [`GoogleApiError::Gone`], an unknown one
    /// [`GoogleApiError::NotFound`].
    async fn delete_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        send_updates: SendUpdates,
    ) -> Result<(), GoogleApiError>;
}
