//! A session's Zoom meeting: made on the host's Zoom account (or the organisation's), moved
//! when the session moves, deleted with it, and started only by the host with a start link
//! fetched fresh from Zoom each time.
//!
//! Design:
//! 1. **Which connection.** The host's own Zoom connection first. Only when the host has none
//!    (not when theirs needs reconnecting: they chose their own account) and the deployment
//!    names an organisation user ([`MeetConfig::organisation_user`]) is the tenant's
//!    organisation connection used. The record keeps which connection and which Zoom account
//!    made the meeting ([`MadeWith`]): every later call (start, move, delete) goes through
//!    that grant, and once it is gone or points at another account the meeting reads as
//!    `host_connection_ended`.
//! 2. **Exactly one meeting.** Zoom has no idempotency key, so the claim's random request id
//!    goes into the agenda as an opaque marker (`calbridge-ref:<id>`). A create whose answer
//!    is lost (a timeout, a 5xx, a dropped connection) is looked for by marker before anyone
//!    creates again: at once by the same call, and by whoever takes over an expired claim,
//!    which keeps the marker. Only an answer that says nothing was made (a 4xx) releases the
//!    claim. Concurrent callers never reach Zoom twice: the claim decides (see the parent).
//! 3. **Tokens.** One access token per call sequence; a 401 refreshes once under the
//!    connection's single-flight lease (Zoom rotates refresh tokens: see
//!    [`crate::usecases::access_tokens`]) and tries once more, never more.
//! 4. **Limits.** Zoom's 429 (its per-second limit, or the host's daily cap of meeting creates
//!    and updates, whose `Retry-After` is the next UTC midnight) is answered
//!    `429 zoom_rate_limited` with that `Retry-After`; nothing is retried inside the request.
//! 5. **Start links** are secrets of the host: fetched with `GET /meetings/{id}` when the host
//!    asks, handed over, never stored or logged ([`StartUrl`]).
//!
//! [`MeetConfig::organisation_user`]: crate::config::MeetConfig::organisation_user

use std::future::Future;

use jiff::Timestamp;
use oauth2::AccessToken;

use super::{MeetingError, NewMeeting};
use crate::app::App;
use crate::domain::{ConnectionKey, Owner, Provider};
use crate::errors::ErrorChain;
use crate::ports::{MadeWith, MeetingRecord, Schedule, StartUrl, ZoomApiError, ZoomMeetingSpec, ZoomMeetings};
use crate::usecases::access_tokens::{Access, AccessError, NotUsable, access_token, fresh_token};

/// The topic of every Zoom meeting unless titles are allowed.
pub const NEUTRAL_TOPIC: &str = "Session";
const MARKER_PREFIX: &str = "calbridge-ref:";

/// What a create made at Zoom.
pub(super) struct CreatedZoom {
    pub meeting_id: String,
    pub join_url: String,
    pub made_with: MadeWith,
}

/// How a create attempt failed: whether Zoom may have made the meeting anyway.
pub(super) enum CreateFailure {
    /// Zoom said no, or was never asked: the claim can go.
    NothingMade(MeetingError),
    /// The answer was lost: the claim stays (expired) so the next call looks for the marker.
    Unknown(MeetingError),
}

fn zoom_api(app: &App) -> Result<&dyn ZoomMeetings, MeetingError> {
    app.zoom_meetings.as_deref().ok_or(MeetingError::ProviderNotOffered)
}

fn marker(request_id: &str) -> String {
    format!("{MARKER_PREFIX}{request_id}")
}

/// Whole minutes covering the session, at least one (Zoom's `duration`).
fn duration_minutes(schedule: &Schedule) -> u32 {
    let seconds = schedule.end.duration_since(schedule.start).as_secs().max(1);
    u32::try_from((seconds + 59) / 60).unwrap_or(u32::MAX)
}

fn spec(app: &App, schedule: &Schedule, title: &str, request_id: &str) -> ZoomMeetingSpec {
    ZoomMeetingSpec {
        topic: if app.settings.meet.allow_titles { title.to_owned() } else { NEUTRAL_TOPIC.to_owned() },
        start: schedule.start,
        duration_minutes: duration_minutes(schedule),
        time_zone: schedule.time_zone.clone(),
        marker: marker(request_id),
        waiting_room: app.settings.meet.zoom_waiting_room,
    }
}

/// A Zoom error as the client hears it.
pub(super) fn zoom_error(error: ZoomApiError, now: Timestamp) -> MeetingError {
    match error {
        ZoomApiError::RateLimited { retry_after, daily } => {
            let seconds = retry_after.map_or(1, |at| at.duration_since(now).as_secs().max(1));
            MeetingError::ZoomRateLimited { retry_after_seconds: u64::try_from(seconds).unwrap_or(1), daily }
        }
        other => MeetingError::Zoom(other),
    }
}

fn access_error(error: AccessError) -> MeetingError {
    match error.not_usable() {
        Some(state) => MeetingError::HostNotUsable(Provider::Zoom, state),
        None => MeetingError::Access(error),
    }
}

/// A token of one Zoom connection, refreshed once after a 401.
struct ZoomCalls<'a> {
    app: &'a App,
    access: Access,
}

impl<'a> ZoomCalls<'a> {
    async fn open(app: &'a App, key: &ConnectionKey) -> Result<Self, AccessError> {
        Ok(Self { app, access: access_token(app, key).await? })
    }

    async fn call<T, F, Fut>(&mut self, call: F) -> Result<T, MeetingError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, ZoomApiError>>,
    {
        let now = self.app.clock.now();
        match call(self.access.token.clone()).await {
            Err(ZoomApiError::Unauthorized) => {
                tracing::info!("zoom rejected the access token; refreshing once");
                let key = self.access.record.key.clone();
                self.access = fresh_token(self.app, &key, Some(&self.access.token)).await.map_err(access_error)?;
                call(self.access.token.clone()).await.map_err(|e| zoom_error(e, now))
            }
            other => other.map_err(|e| zoom_error(e, now)),
        }
    }
}

/// The connection a new meeting for `host` is made with: theirs, else the organisation's.
async fn connection_for<'a>(app: &'a App, host: &Owner) -> Result<ZoomCalls<'a>, MeetingError> {
    match ZoomCalls::open(app, &host.connection(Provider::Zoom)).await {
        Err(AccessError::NotUsable(NotUsable::NotConnected)) => {
            let Some(organisation) = &app.settings.meet.organisation_user else {
                return Err(MeetingError::HostNotUsable(Provider::Zoom, NotUsable::NotConnected));
            };
            let key = Owner::new(host.tenant.clone(), organisation.clone()).connection(Provider::Zoom);
            let calls = ZoomCalls::open(app, &key).await.map_err(access_error)?;
            tracing::info!("the host has no zoom connection; using the organisation's");
            Ok(calls)
        }
        other => other.map_err(access_error),
    }
}

/// The connection that made `record`'s meeting, if it still holds the same Zoom account.
async fn maker_connection<'a>(app: &'a App, record: &MeetingRecord) -> Result<ZoomCalls<'a>, MeetingError> {
    let made_with = record.made_with.as_ref().ok_or(MeetingError::NoStartLink)?;
    let key = Owner::new(record.tenant.clone(), made_with.user.clone()).connection(Provider::Zoom);
    let calls = match ZoomCalls::open(app, &key).await {
        Err(error) if error.not_usable().is_some() => return Err(MeetingError::HostConnectionEnded),
        other => other.map_err(access_error)?,
    };
    if calls.access.record.account_id != made_with.account_id {
        return Err(MeetingError::HostConnectionEnded);
    }
    Ok(calls)
}

/// Whether the connection that made `record`'s meeting is still there, on the same account.
pub(super) async fn maker_connected(app: &App, record: &MeetingRecord) -> Result<bool, MeetingError> {
    let Some(made_with) = &record.made_with else { return Ok(true) };
    let key = Owner::new(record.tenant.clone(), made_with.user.clone()).connection(Provider::Zoom);
    let connection = app.connections.get_connection(&key).await?;
    Ok(connection
        .is_some_and(|c| c.account_id == made_with.account_id && c.status == crate::ports::ConnectionStatus::Connected))
}

/// Makes the claimed meeting at Zoom, or finds the one an earlier attempt with the same
/// marker made.
pub(super) async fn create(
    app: &App,
    host: &Owner,
    claimed: &MeetingRecord,
    meeting: &NewMeeting,
    look_first: bool,
) -> Result<CreatedZoom, CreateFailure> {
    use CreateFailure::{NothingMade, Unknown};
    let api = zoom_api(app).map_err(NothingMade)?;
    let mut calls = connection_for(app, host).await.map_err(NothingMade)?;
    let made_with =
        MadeWith { user: calls.access.record.key.user.clone(), account_id: calls.access.record.account_id.clone() };
    let request_id = claimed.request_id.clone().unwrap_or_default();
    let spec = spec(app, &meeting.schedule, &meeting.title, &request_id);
    let marker = spec.marker.as_str();
    let find = |token: AccessToken| async move { api.find_by_marker(&token, marker).await };
    if look_first {
        // A creator before us may have made it and died before recording it.
        match calls.call(find).await {
            Ok(Some(found)) => {
                tracing::info!("adopted the zoom meeting an earlier attempt made");
                return Ok(CreatedZoom { meeting_id: found.id, join_url: found.join_url, made_with });
            }
            Ok(None) => {}
            Err(error) => return Err(Unknown(error)),
        }
    }
    let spec_ref = &spec;
    match calls.call(|token: AccessToken| async move { api.create_meeting(&token, spec_ref).await }).await {
        Ok(created) => Ok(CreatedZoom { meeting_id: created.id, join_url: created.join_url, made_with }),
        Err(MeetingError::Zoom(ZoomApiError::Unavailable(cause))) => {
            tracing::warn!(error = %ErrorChain(&*cause), "zoom's answer to a create was lost; looking for the meeting");
            match calls.call(find).await {
                Ok(Some(found)) => Ok(CreatedZoom { meeting_id: found.id, join_url: found.join_url, made_with }),
                Ok(None) => Err(NothingMade(MeetingError::Zoom(ZoomApiError::Unavailable(cause)))),
                Err(error) => Err(Unknown(error)),
            }
        }
        Err(error) => Err(NothingMade(error)),
    }
}

/// Moves the meeting to `schedule` (PATCH), through the connection that made it.
pub(super) async fn reschedule(
    app: &App,
    record: &MeetingRecord,
    schedule: &Schedule,
    title: &str,
) -> Result<(), MeetingError> {
    let api = zoom_api(app)?;
    let mut calls = maker_connection(app, record).await?;
    let meeting_id = record.conference_id.as_deref().ok_or(MeetingError::NotFound)?;
    let spec = spec(app, schedule, title, record.request_id.as_deref().unwrap_or_default());
    let spec = &spec;
    match calls.call(|token: AccessToken| async move { api.update_meeting(&token, meeting_id, spec).await }).await {
        Err(MeetingError::Zoom(ZoomApiError::NotFound)) => Err(MeetingError::HostConnectionEnded),
        other => other,
    }
}

/// A fresh start link for the meeting.
pub(super) async fn start_link(app: &App, record: &MeetingRecord) -> Result<StartUrl, MeetingError> {
    let api = zoom_api(app)?;
    let mut calls = maker_connection(app, record).await?;
    let meeting_id = record.conference_id.as_deref().ok_or(MeetingError::NotFound)?;
    let meeting = match calls.call(|token: AccessToken| async move { api.get_meeting(&token, meeting_id).await }).await
    {
        Err(MeetingError::Zoom(ZoomApiError::NotFound)) => return Err(MeetingError::HostConnectionEnded),
        other => other?,
    };
    meeting.start_url.ok_or(MeetingError::Zoom(ZoomApiError::Unavailable("zoom answered no start_url".into())))
}

/// Deletes the meeting at Zoom. One Zoom no longer has, or whose connection has ended (the
/// meeting is out of calbridge's reach), counts as deleted.
pub(super) async fn delete(app: &App, record: &MeetingRecord) -> Result<(), MeetingError> {
    let api = zoom_api(app)?;
    let mut calls = match maker_connection(app, record).await {
        Err(MeetingError::HostConnectionEnded) => {
            tracing::warn!("the connection that made the zoom meeting has ended; removing the record only");
            return Ok(());
        }
        other => other?,
    };
    let Some(meeting_id) = record.conference_id.as_deref() else { return Ok(()) };
    match calls.call(|token: AccessToken| async move { api.delete_meeting(&token, meeting_id).await }).await {
        Ok(()) | Err(MeetingError::Zoom(ZoomApiError::NotFound)) => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_covers_the_session_in_whole_minutes() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let schedule = |end: &str| Schedule { start: at("2026-12-02T10:00:00Z"), end: at(end), time_zone: None };
        assert_eq!(duration_minutes(&schedule("2026-12-02T10:45:00Z")), 45);
        assert_eq!(duration_minutes(&schedule("2026-12-02T10:45:01Z")), 46);
        assert_eq!(duration_minutes(&schedule("2026-12-02T10:00:10Z")), 1);
    }

    #[test]
    fn a_rate_limit_answers_the_seconds_to_zooms_retry_time() {
        let now: Timestamp = "2026-12-02T23:59:00Z".parse().unwrap();
        let error =
            ZoomApiError::RateLimited { retry_after: Some("2026-12-03T00:00:00Z".parse().unwrap()), daily: true };
        assert!(matches!(
            zoom_error(error, now),
            MeetingError::ZoomRateLimited { retry_after_seconds: 60, daily: true }
        ));
        let error = ZoomApiError::RateLimited { retry_after: None, daily: false };
        assert!(matches!(zoom_error(error, now), MeetingError::ZoomRateLimited { retry_after_seconds: 1, .. }));
    }
}
