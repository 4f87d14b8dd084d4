//! Zoom's meetings API, as calbridge uses it: scheduled meetings on the account behind one
//! user-managed OAuth grant (`/users/me`).
//!
//! Contract: one HTTP exchange per call (the one refresh after a 401 is the caller's, see
//! [`crate::usecases::meetings`]); failures are classified into [`ZoomApiError`]. A meeting's
//! `start_url` starts it as the host without a password: it is a [`StartUrl`], whose `Debug`
//! is redacted, is never stored, and is fetched fresh whenever the host asks (Zoom's expire
//! after about two hours). Zoom has no idempotency key for creates, so every create carries
//! an opaque marker in the agenda, and [`ZoomMeetings::find_by_marker`] finds a meeting whose
//! create answer was lost.

use async_trait::async_trait;
use jiff::Timestamp;
use oauth2::AccessToken;
use secrecy::{ExposeSecret, SecretString};

/// How a Zoom API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ZoomApiError {
    /// 401 (code 124): the access token is expired or revoked. Refresh once, then give up.
    #[error("zoom rejected the access token")]
    Unauthorized,
    /// 429: the per-second rate limit, or the host's daily cap of meeting creates and updates.
    /// `retry_after` is when Zoom says to try again (an RFC 3339 time for the daily cap).
    #[error("zoom rate limit")]
    RateLimited { retry_after: Option<Timestamp>, daily: bool },
    /// 404 (code 3001, 1001): the meeting (or user) does not exist for this caller.
    #[error("not found at zoom")]
    NotFound,
    /// 5xx, timeouts, connection failures, unparseable bodies: the request may or may not have
    /// been applied.
    #[error("zoom unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Any other 4xx (validation, missing scope), with Zoom's numeric code.
    #[error("zoom refused the request ({status}, code {code})")]
    Rejected { status: u16, code: i64 },
}

/// A start link: whoever opens it starts the meeting as its host.
#[derive(Clone)]
pub struct StartUrl(SecretString);

impl StartUrl {
    pub fn new(url: String) -> Self {
        Self(SecretString::from(url))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for StartUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StartUrl(<redacted>)")
    }
}

/// What calbridge asks Zoom to schedule (create and reschedule alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoomMeetingSpec {
    pub topic: String,
    pub start: Timestamp,
    /// Whole minutes, at least 1.
    pub duration_minutes: u32,
    /// The IANA zone Zoom shows the meeting in; `None` is the host's own.
    pub time_zone: Option<String>,
    /// Opaque, in the agenda: how a create whose answer was lost is found again.
    pub marker: String,
    pub waiting_room: bool,
}

/// A scheduled meeting as Zoom answers it.
#[derive(Debug, Clone)]
pub struct ZoomMeeting {
    /// Zoom's meeting id (an int64, kept as its decimal string).
    pub id: String,
    pub join_url: String,
    /// Present in create and get answers; never in list answers.
    pub start_url: Option<StartUrl>,
}

#[async_trait]
pub trait ZoomMeetings: Send + Sync {
    /// `POST /users/me/meetings`, type 2 (scheduled).
    async fn create_meeting(&self, token: &AccessToken, spec: &ZoomMeetingSpec) -> Result<ZoomMeeting, ZoomApiError>;

    /// `GET /meetings/{id}`: with a fresh `start_url`.
    async fn get_meeting(&self, token: &AccessToken, meeting_id: &str) -> Result<ZoomMeeting, ZoomApiError>;

    /// `PATCH /meetings/{id}`: new times (and topic).
    async fn update_meeting(
        &self,
        token: &AccessToken,
        meeting_id: &str,
        spec: &ZoomMeetingSpec,
    ) -> Result<(), ZoomApiError>;

    /// `DELETE /meetings/{id}`; a meeting Zoom no longer has is [`ZoomApiError::NotFound`].
    async fn delete_meeting(&self, token: &AccessToken, meeting_id: &str) -> Result<(), ZoomApiError>;

    /// The host's scheduled meeting whose agenda carries `marker`, if any (`GET
    /// /users/me/meetings`, every page up to a bound).
    async fn find_by_marker(&self, token: &AccessToken, marker: &str) -> Result<Option<ZoomMeeting>, ZoomApiError>;
}
