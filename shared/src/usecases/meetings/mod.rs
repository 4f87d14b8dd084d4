//! A meeting link for every session: a fresh Google Meet on the host's calendar, a Zoom
//! meeting on the host's Zoom account ([`zoom`]), or a link the host already has (Zoom, Teams,
//! an existing Meet), readable by host and participants.
//!
//! Which one: `existing_url` attaches that link; otherwise `provider` (`google_meet` or
//! `zoom`) or the deployment's `DEFAULT_MEETING_PROVIDER` says what is made. A host without a
//! connection to that provider gets `409 not_connected` naming it, and can attach a link.
//!
//! Exactly one meeting per session, even under concurrent calls: the first caller creates a
//! `creating` record (conditional on absence) that holds a lease while it talks to Google;
//! everyone else waits for it to become ready and gets the same meeting. The Google event's
//! id is derived from (tenant, session, request id) and the Meet `requestId` is fresh per
//! attempt, so a retried insert never makes a second event or conference. A pending conference is polled a
//! bounded number of times; a failed one is cleaned up and answered `meet_creation_failed`.
//! A Zoom meeting carries the request id as a marker instead ([`zoom`] explains why).
//!
//! Posting again with other times moves the meeting: a Zoom meeting with Zoom's `PATCH`, a
//! Meet by patching its event (the conference stays); the answer is 200 with the new
//! schedule. An attached link is returned as it is.
//!
//! Attached links are validated strictly: https only, no credentials in the URL, no explicit
//! port, and the host must equal an allowed host (or be a subdomain of a `*.` entry): a
//! look-alike such as `meet.google.com.evil.example` is refused.
//!
//! Who may do what (the caller is a [`Principal`]):
//! - The app's service creates a meeting for the `host_user_id` it names, and may `reset` one
//!   (delete and create anew). A meeting the service creates or resets replaces whatever a user
//!   made for the session, so a user who guesses a session id cannot lock the host out.
//! - A user may create only where `ALLOW_USER_MEETINGS` is on, and only as the host; otherwise
//!   403, because calbridge cannot tell a coach from a coachee and the app can.
//! - Host and service delete; host, participants and service read. Everyone else gets the
//!   same 404 as for a session that does not exist.
//! - Only the host gets a Zoom meeting's start link ([`start_link`]): the service is 403
//!   (it would hand the host's room to whoever it shows the link to), anyone else 404.

mod links;
mod meet;
mod zoom;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::domain::{
    ActingError, EventTitle, MeetingProvider, Owner, Principal, Provider, SessionId, TimeZoneName, UserId,
};
use crate::errors::{ErrorChain, InputError};
use crate::ports::{
    LeaseWait, MeetingCreator, MeetingRecord, MeetingState, Schedule, StartUrl, StoreError, WriteCondition,
    ZoomApiError,
};
use crate::usecases::access_tokens::{AccessError, NotUsable};
use crate::usecases::calendar_session::CalendarSession;
use crate::usecases::deadline;

pub use links::{AttachedLink, parse_meeting_link};
pub use zoom::NEUTRAL_TOPIC;

/// How long a creator holds a session while it talks to Google or Zoom.
pub const CREATE_LEASE: SignedDuration = SignedDuration::from_secs(30);
/// How often, and how many times, a pending conference is looked at again.
pub(super) const POLL_INTERVAL: Duration = Duration::from_millis(500);
pub(super) const MAX_POLLS: usize = 10;
const WAIT_STEP: Duration = Duration::from_millis(100);
const MAX_PEOPLE: usize = 50;
/// The longest session a meeting is made for.
const MAX_SESSION: SignedDuration = SignedDuration::from_hours(24);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingRequest {
    /// Whom the service creates the meeting for (a user may name only themselves).
    pub host_user_id: Option<String>,
    /// Service only: delete the session's meeting (whoever made it) and create this one.
    #[serde(default)]
    pub reset: bool,
    /// `google_meet` or `zoom`; the deployment's default when absent.
    pub provider: Option<String>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub time_zone: Option<String>,
    pub title: Option<String>,
    #[serde(default)]
    pub attendee_emails: Vec<String>,
    #[serde(default)]
    pub participant_user_ids: Vec<String>,
    pub existing_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MeetingError {
    #[error(transparent)]
    Invalid(#[from] InputError),
    #[error(transparent)]
    Acting(#[from] ActingError),
    /// The service asked for a session whose meeting another host holds (reset replaces it).
    #[error("the session already has a meeting with another host")]
    OtherHost,
    #[error("no such meeting")]
    NotFound,
    /// The host's connection to the provider that would make the meeting cannot be used.
    #[error("the host's {0} connection cannot be used: {1:?}")]
    HostNotUsable(Provider, NotUsable),
    #[error("Google could not create the Meet conference")]
    CreationFailed,
    /// This deployment does not offer the meeting provider asked for.
    #[error("this deployment does not make meetings with that provider")]
    ProviderNotOffered,
    /// The meeting has no start link (a Meet, or an attached link).
    #[error("this meeting has no start link")]
    NoStartLink,
    /// The connection that made the meeting is gone or now holds another account.
    #[error("the connection that made this meeting has ended")]
    HostConnectionEnded,
    /// Zoom's rate limit or the host's daily cap of meeting creates and updates.
    #[error("zoom's rate limit")]
    ZoomRateLimited { retry_after_seconds: u64, daily: bool },
    #[error("zoom call failed")]
    Zoom(#[source] ZoomApiError),
    #[error(transparent)]
    Access(AccessError),
}

impl From<StoreError> for MeetingError {
    fn from(error: StoreError) -> Self {
        MeetingError::Access(AccessError::Store(error))
    }
}

impl From<AccessError> for MeetingError {
    /// An access error of the host's Google connection (Meet).
    fn from(error: AccessError) -> Self {
        match error.not_usable() {
            Some(state) => MeetingError::HostNotUsable(Provider::Google, state),
            None => MeetingError::Access(error),
        }
    }
}

pub(super) fn invalid(code: &'static str, message: impl Into<String>) -> MeetingError {
    MeetingError::Invalid(InputError::new(code, message))
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct MeetingView {
    pub session_id: String,
    /// The link participants join with (never a start link).
    pub meeting_url: String,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_event_id: Option<String>,
    pub host_user_id: String,
    pub participant_user_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// For a meeting calbridge made at Zoom: `active`, or `host_connection_ended` once the
    /// connection that made it is gone (deauthorized, disconnected, another account), when the
    /// link may no longer work and calbridge can no longer move or start it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_status: Option<&'static str>,
}

impl MeetingView {
    fn of(record: &MeetingRecord, maker_connected: Option<bool>) -> Option<Self> {
        let schedule = record.schedule.as_ref();
        Some(Self {
            session_id: record.session_id.to_string(),
            meeting_url: record.meeting_url.clone()?,
            provider: record.provider.clone(),
            conference_id: record.conference_id.clone(),
            calendar_event_id: record.calendar_event_id.clone(),
            host_user_id: record.host_user_id.to_string(),
            participant_user_ids: record.participant_user_ids.iter().map(ToString::to_string).collect(),
            start: schedule.map(|s| s.start),
            end: schedule.map(|s| s.end),
            time_zone: schedule.and_then(|s| s.time_zone.clone()),
            link_status: record.made_with.as_ref().map(|_| match maker_connected {
                Some(false) => "host_connection_ended",
                _ => "active",
            }),
        })
    }

    fn fresh(record: &MeetingRecord) -> Result<Self, MeetingError> {
        Self::of(record, Some(true)).ok_or(MeetingError::CreationFailed)
    }
}

/// What a create call asks for.
pub(super) enum Kind {
    Attach(AttachedLink),
    Make(MeetingProvider),
}

/// Validated input of a create call.
pub(super) struct NewMeeting {
    start: jiff::Timestamp,
    end: jiff::Timestamp,
    time_zone: Option<TimeZoneName>,
    schedule: Schedule,
    title: String,
    attendee_emails: Vec<String>,
    participants: Vec<UserId>,
    kind: Kind,
}

fn validate(app: &App, request: MeetingRequest) -> Result<NewMeeting, MeetingError> {
    let (start, end) = match (request.start, request.end) {
        (Some(start), Some(end)) if start < end => (start, end),
        (Some(_), Some(_)) => return Err(invalid("invalid_time_range", "end must be after start")),
        _ => return Err(invalid("invalid_request", "start and end are required")),
    };
    if end.duration_since(start) > MAX_SESSION {
        return Err(invalid("invalid_time_range", "a session lasts at most 24 hours"));
    }
    let time_zone = request
        .time_zone
        .as_deref()
        .map(TimeZoneName::parse)
        .transpose()
        .map_err(|e| invalid("unknown_time_zone", e.to_string()))?;
    let title = EventTitle::parse_optional(request.title.as_deref())
        .map_err(|e| invalid("invalid_request", e.to_string()))?
        .map_or_else(|| "Session".to_owned(), EventTitle::into_string);
    if request.attendee_emails.len() > MAX_PEOPLE || request.participant_user_ids.len() > MAX_PEOPLE {
        return Err(invalid(
            "invalid_request",
            format!("at most {MAX_PEOPLE} attendees and {MAX_PEOPLE} participants"),
        ));
    }
    for email in &request.attendee_emails {
        let plausible = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '<' || c == '>');
        if !plausible {
            return Err(invalid("invalid_request", format!("{email:?} is not an email address")));
        }
    }
    let mut participants: Vec<UserId> = Vec::new();
    for raw in &request.participant_user_ids {
        let user = UserId::parse(raw).map_err(|e| invalid("invalid_request", format!("participant_user_ids: {e}")))?;
        if !participants.contains(&user) {
            participants.push(user);
        }
    }
    let provider = match request.provider.as_deref() {
        None => app.settings.meet.default_provider,
        Some(raw) => MeetingProvider::parse(raw)
            .ok_or_else(|| invalid("invalid_request", "provider must be google_meet or zoom"))?,
    };
    let kind = match request.existing_url.as_deref() {
        Some(raw) => Kind::Attach(parse_meeting_link(raw, &app.settings.meet.allowed_hosts)?),
        None => {
            if app.oauth(provider.connection()).is_err() {
                return Err(MeetingError::ProviderNotOffered);
            }
            Kind::Make(provider)
        }
    };
    let schedule = Schedule { start, end, time_zone: time_zone.as_ref().map(|zone| zone.as_str().to_owned()) };
    Ok(NewMeeting {
        start,
        end,
        time_zone,
        schedule,
        title,
        attendee_emails: request.attendee_emails,
        participants,
        kind,
    })
}

/// Creates (or returns, or moves) the session's meeting. `Ok((view, true))` when this call
/// created it.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant(), session = %session))]
pub async fn create(
    app: &App,
    caller: &Principal,
    session: &SessionId,
    request: MeetingRequest,
) -> Result<(MeetingView, bool), MeetingError> {
    if !caller.is_service() && !app.settings.meet.allow_user_meetings {
        return Err(ActingError::Forbidden("only the app's service may create session meetings").into());
    }
    if request.reset {
        caller.require_service("only the app's service may reset a meeting")?;
    }
    let host = caller.acting_for(request.host_user_id.as_deref(), "host_user_id")?;
    let creator = if caller.is_service() { MeetingCreator::Service } else { MeetingCreator::Host };
    let mut reset = request.reset;
    let meeting = validate(app, request)?;
    let wait = LeaseWait::new(deadline::work_until(CREATE_LEASE.unsigned_abs()), WAIT_STEP);
    loop {
        let now = app.clock.now();
        let current = app.meetings.get_meeting(&host.tenant, session).await?;
        let Some(record) = current else {
            let claimed = claim(&host, creator, session, &meeting, None, now);
            match app.meetings.put_meeting(&claimed, WriteCondition::Absent).await {
                Ok(()) => return finish(app, &host, claimed, &meeting, false).await,
                Err(StoreError::ConditionFailed) => continue,
                Err(error) => return Err(error.into()),
            }
        };
        if let MeetingState::Creating { lease_until } = record.state
            && lease_until > now
        {
            // Another call is creating this very meeting: wait for it.
            if !wait.step().await {
                return Err(MeetingError::Access(AccessError::Store(StoreError::Unavailable(
                    "the meeting is still being created".into(),
                ))));
            }
            continue;
        }
        let replace = creator == MeetingCreator::Service && (reset || record.created_by == MeetingCreator::Host);
        if replace {
            // Whatever was there goes, its Google event or Zoom meeting with it; then the loop
            // creates anew.
            remove(app, &record).await?;
            reset = false;
            continue;
        }
        if record.host_user_id != host.user {
            return Err(match creator {
                MeetingCreator::Service => MeetingError::OtherHost,
                MeetingCreator::Host => MeetingError::NotFound,
            });
        }
        match record.state {
            MeetingState::Ready => match reschedule_if_moved(app, &record, &meeting).await? {
                Some(moved) => return Ok((moved, false)),
                None => continue,
            },
            MeetingState::Creating { .. } => {
                // The creator died: take over (a Zoom claim keeps its marker, to find what
                // the dead creator may have made).
                let claimed = claim(&host, creator, session, &meeting, Some(&record), now);
                match app.meetings.put_meeting(&claimed, WriteCondition::Version(record.revision)).await {
                    Ok(()) => return finish(app, &host, claimed, &meeting, true).await,
                    Err(StoreError::ConditionFailed) => continue,
                    Err(error) => return Err(error.into()),
                }
            }
        }
    }
}

/// A ready meeting asked for again: a Zoom meeting or a Meet asked for at other times is moved
/// there (`None`: the record changed meanwhile, read it again); an attached link, or a meeting
/// asked for at the same times, is answered as it is.
async fn reschedule_if_moved(
    app: &App,
    record: &MeetingRecord,
    meeting: &NewMeeting,
) -> Result<Option<MeetingView>, MeetingError> {
    let zoom_made = record.provider == MeetingProvider::Zoom.as_str() && record.made_with.is_some();
    let meet_made = record.provider == MeetingProvider::GoogleMeet.as_str() && record.calendar_event_id.is_some();
    if !(zoom_made || meet_made) || record.schedule.as_ref() == Some(&meeting.schedule) {
        let connected = zoom::maker_connected(app, record).await?;
        return Ok(Some(MeetingView::of(record, Some(connected)).ok_or(MeetingError::CreationFailed)?));
    }
    if zoom_made {
        zoom::reschedule(app, record, &meeting.schedule, &meeting.title).await?;
    } else {
        meet::move_meet(app, record, meeting).await?;
    }
    let moved = MeetingRecord {
        revision: record.revision + 1,
        schedule: Some(meeting.schedule.clone()),
        participant_user_ids: meeting.participants.clone(),
        updated_at: app.clock.now(),
        ..record.clone()
    };
    match app.meetings.put_meeting(&moved, WriteCondition::Version(record.revision)).await {
        Ok(()) => {
            tracing::info!(provider = %moved.provider, "meeting rescheduled");
            Ok(Some(MeetingView::fresh(&moved)?))
        }
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn claim(
    host: &Owner,
    created_by: MeetingCreator,
    session: &SessionId,
    meeting: &NewMeeting,
    previous: Option<&MeetingRecord>,
    now: Timestamp,
) -> MeetingRecord {
    let creating = MeetingState::Creating { lease_until: now + deadline::lease_for(CREATE_LEASE) };
    let (state, provider, url, request_id) = match &meeting.kind {
        Kind::Attach(link) => (MeetingState::Ready, link.provider.to_owned(), Some(link.url.clone()), None),
        Kind::Make(MeetingProvider::GoogleMeet) => {
            (creating, MeetingProvider::GoogleMeet.as_str().to_owned(), None, Some(crate::crypto::random::token()))
        }
        Kind::Make(MeetingProvider::Zoom) => {
            // The marker of a dead creator's attempt is kept, so its meeting is found.
            let inherited =
                previous.filter(|p| p.provider == MeetingProvider::Zoom.as_str()).and_then(|p| p.request_id.clone());
            let request_id = inherited.unwrap_or_else(crate::crypto::random::token);
            (creating, MeetingProvider::Zoom.as_str().to_owned(), None, Some(request_id))
        }
    };
    MeetingRecord {
        tenant: host.tenant.clone(),
        session_id: session.clone(),
        revision: previous.map_or(1, |p| p.revision + 1),
        state,
        host_user_id: host.user.clone(),
        participant_user_ids: meeting.participants.clone(),
        created_by,
        provider,
        meeting_url: url,
        conference_id: None,
        calendar_event_id: None,
        calendar_id: None,
        request_id,
        schedule: Some(meeting.schedule.clone()),
        made_with: None,
        created_at: now,
        updated_at: now,
    }
}

/// Completes a claimed meeting: nothing more for an attached link; the Google event and its
/// conference for a Meet; the Zoom meeting for Zoom. On failure the claim is removed so a
/// retry starts clean, unless Zoom may have made the meeting (then it is left expired, for
/// the next call to find by its marker).
async fn finish(
    app: &App,
    host: &Owner,
    claimed: MeetingRecord,
    meeting: &NewMeeting,
    taking_over: bool,
) -> Result<(MeetingView, bool), MeetingError> {
    let release = async |claimed: &MeetingRecord| {
        if let Err(e) = app.meetings.delete_meeting(&claimed.tenant, &claimed.session_id, claimed.revision).await {
            tracing::warn!(error = %ErrorChain(&e), "could not release the meeting claim");
        }
    };
    let ready = match &meeting.kind {
        Kind::Attach(_) => {
            tracing::info!(provider = %claimed.provider, "meeting link attached");
            return Ok((MeetingView::fresh(&claimed)?, true));
        }
        Kind::Make(MeetingProvider::GoogleMeet) => match meet::create_meet(app, host, &claimed, meeting).await {
            Ok(created) => MeetingRecord {
                meeting_url: Some(created.uri),
                conference_id: Some(created.conference_id),
                calendar_event_id: Some(created.event_id),
                calendar_id: Some(created.calendar_id),
                ..claimed.clone()
            },
            Err(error) => {
                release(&claimed).await;
                return Err(error);
            }
        },
        Kind::Make(MeetingProvider::Zoom) => match zoom::create(app, host, &claimed, meeting, taking_over).await {
            Ok(created) => MeetingRecord {
                meeting_url: Some(created.join_url),
                conference_id: Some(created.meeting_id),
                made_with: Some(created.made_with),
                ..claimed.clone()
            },
            Err(zoom::CreateFailure::NothingMade(error)) => {
                release(&claimed).await;
                return Err(error);
            }
            Err(zoom::CreateFailure::Unknown(error)) => {
                let expired = MeetingRecord {
                    revision: claimed.revision + 1,
                    state: MeetingState::Creating { lease_until: app.clock.now() },
                    ..claimed.clone()
                };
                if let Err(e) = app.meetings.put_meeting(&expired, WriteCondition::Version(claimed.revision)).await {
                    tracing::warn!(error = %ErrorChain(&e), "could not hand the zoom claim on");
                }
                return Err(error);
            }
        },
    };
    let ready = MeetingRecord {
        revision: claimed.revision + 1,
        state: MeetingState::Ready,
        updated_at: app.clock.now(),
        ..ready
    };
    app.meetings.put_meeting(&ready, WriteCondition::Version(claimed.revision)).await?;
    tracing::info!(provider = %ready.provider, "meeting created");
    crate::metrics::meeting_created(&ready.provider);
    Ok((MeetingView::fresh(&ready)?, true))
}

/// The meeting, for its host, its participants and the service.
pub async fn get(app: &App, caller: &Principal, session: &SessionId) -> Result<MeetingView, MeetingError> {
    let record = readable(app, caller, session).await?;
    let connected = zoom::maker_connected(app, &record).await?;
    MeetingView::of(&record, Some(connected)).ok_or(MeetingError::NotFound)
}

async fn readable(app: &App, caller: &Principal, session: &SessionId) -> Result<MeetingRecord, MeetingError> {
    let record = app.meetings.get_meeting(caller.tenant(), session).await?.ok_or(MeetingError::NotFound)?;
    let allowed = match caller.user() {
        None => true,
        Some(user) => &record.host_user_id == user || record.participant_user_ids.contains(user),
    };
    if !allowed || record.state != MeetingState::Ready {
        return Err(MeetingError::NotFound);
    }
    Ok(record)
}

/// A fresh start link of the session's Zoom meeting, for its host only.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant(), session = %session))]
pub async fn start_link(app: &App, caller: &Principal, session: &SessionId) -> Result<StartUrl, MeetingError> {
    let record = readable(app, caller, session).await?;
    let Some(user) = caller.user() else {
        return Err(ActingError::Forbidden("only the host may start the meeting").into());
    };
    if user != &record.host_user_id {
        return Err(MeetingError::NotFound);
    }
    if record.made_with.is_none() || record.provider != MeetingProvider::Zoom.as_str() {
        return Err(MeetingError::NoStartLink);
    }
    let link = zoom::start_link(app, &record).await?;
    tracing::info!("start link handed to the host");
    Ok(link)
}

/// Deletes the meeting (host or service), and the Google event or Zoom meeting calbridge
/// created for it.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant(), session = %session))]
pub async fn delete(app: &App, caller: &Principal, session: &SessionId) -> Result<(), MeetingError> {
    let record = app.meetings.get_meeting(caller.tenant(), session).await?.ok_or(MeetingError::NotFound)?;
    if caller.user().is_some_and(|user| user != &record.host_user_id) {
        return Err(MeetingError::NotFound);
    }
    remove(app, &record).await?;
    tracing::info!("meeting deleted");
    Ok(())
}

/// Removes a meeting record and what calbridge created for it: the Google event on the
/// host's calendar, or the Zoom meeting. One the connection can no longer reach is left to
/// the host.
async fn remove(app: &App, record: &MeetingRecord) -> Result<(), MeetingError> {
    if let (Some(calendar_id), Some(event_id)) = (&record.calendar_id, &record.calendar_event_id) {
        let host = Owner::new(record.tenant.clone(), record.host_user_id.clone());
        match CalendarSession::open(app, &host).await {
            Ok(mut calendar) => calendar.delete_event(calendar_id, event_id).await?,
            Err(error) if error.not_usable().is_some() => {
                tracing::warn!(error = %ErrorChain(&error), "the host's connection cannot delete the meeting's event");
            }
            Err(error) => return Err(error.into()),
        }
    }
    if record.made_with.is_some() && record.provider == MeetingProvider::Zoom.as_str() {
        zoom::delete(app, record).await?;
    }
    if !app.meetings.delete_meeting(&record.tenant, &record.session_id, record.revision).await? {
        // Changed meanwhile (a concurrent delete): what the caller wanted has happened or will.
        tracing::info!("meeting changed while deleting it");
    }
    Ok(())
}
