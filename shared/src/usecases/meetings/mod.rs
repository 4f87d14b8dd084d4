//! A meeting link for every session: a fresh Google Meet on the host's calendar, or a link
//! the host already has (Zoom, Teams, an existing Meet), readable by host and participants.
//!
//! Exactly one meeting per session, even under concurrent calls: the first caller creates a
//! `creating` record (conditional on absence) that holds a lease while it talks to Google;
//! everyone else waits for it to become ready and gets the same meeting. The Google event's
//! id is derived from (tenant, session, request id) and the Meet `requestId` is fresh per
//! attempt, so a retried insert never makes a second event or conference. A pending conference is polled a
//! bounded number of times; a failed one is cleaned up and answered `meet_creation_failed`.
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

mod links;
mod meet;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::domain::{ActingError, EventTitle, Owner, Principal, SessionId, TimeZoneName, UserId};
use crate::errors::{ErrorChain, InputError};
use crate::usecases::access_tokens::{AccessError, NotUsable};
use crate::usecases::calendar_session::CalendarSession;

use crate::ports::{LeaseWait, MeetingCreator, MeetingRecord, MeetingState, StoreError, WriteCondition};

pub use links::{AttachedLink, parse_meeting_link};

/// How long a creator holds a session while it talks to Google.
pub const CREATE_LEASE: SignedDuration = SignedDuration::from_secs(30);
/// How often, and how many times, a pending conference is looked at again.
pub(super) const POLL_INTERVAL: Duration = Duration::from_millis(500);
pub(super) const MAX_POLLS: usize = 10;
const WAIT_STEP: Duration = Duration::from_millis(100);
const MAX_PEOPLE: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingRequest {
    /// Whom the service creates the meeting for (a user may name only themselves).
    pub host_user_id: Option<String>,
    /// Service only: delete the session's meeting (whoever made it) and create this one.
    #[serde(default)]
    pub reset: bool,
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
    /// The host's Google connection cannot be used.
    #[error("the host's Google connection cannot be used: {0:?}")]
    HostNotUsable(NotUsable),
    #[error("Google could not create the Meet conference")]
    CreationFailed,
    #[error(transparent)]
    Access(AccessError),
}

impl From<StoreError> for MeetingError {
    fn from(error: StoreError) -> Self {
        MeetingError::Access(AccessError::Store(error))
    }
}

impl From<AccessError> for MeetingError {
    fn from(error: AccessError) -> Self {
        match error.not_usable() {
            Some(state) => MeetingError::HostNotUsable(state),
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
    pub meeting_url: String,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_event_id: Option<String>,
    pub host_user_id: String,
    pub participant_user_ids: Vec<String>,
}

impl MeetingView {
    fn of(record: &MeetingRecord) -> Option<Self> {
        Some(Self {
            session_id: record.session_id.to_string(),
            meeting_url: record.meeting_url.clone()?,
            provider: record.provider.clone(),
            conference_id: record.conference_id.clone(),
            calendar_event_id: record.calendar_event_id.clone(),
            host_user_id: record.host_user_id.to_string(),
            participant_user_ids: record.participant_user_ids.iter().map(ToString::to_string).collect(),
        })
    }
}

/// Validated input of a create call.
pub(super) struct NewMeeting {
    start: Timestamp,
    end: Timestamp,
    time_zone: Option<TimeZoneName>,
    title: String,
    attendee_emails: Vec<String>,
    participants: Vec<UserId>,
    existing: Option<AttachedLink>,
}

fn validate(app: &App, request: MeetingRequest) -> Result<NewMeeting, MeetingError> {
    let (start, end) = match (request.start, request.end) {
        (Some(start), Some(end)) if start < end => (start, end),
        (Some(_), Some(_)) => return Err(invalid("invalid_time_range", "end must be after start")),
        _ => return Err(invalid("invalid_request", "start and end are required")),
    };
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
    let existing = request
        .existing_url
        .as_deref()
        .map(|raw| parse_meeting_link(raw, &app.settings.meet.allowed_hosts))
        .transpose()?;
    Ok(NewMeeting { start, end, time_zone, title, attendee_emails: request.attendee_emails, participants, existing })
}

/// Creates (or returns) the session's meeting. `Ok((view, true))` when this call created it.
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
    let wait = LeaseWait::new(tokio::time::Instant::now() + CREATE_LEASE.unsigned_abs(), WAIT_STEP);
    loop {
        let now = app.clock.now();
        let current = app.meetings.get_meeting(&host.tenant, session).await?;
        let Some(record) = current else {
            let claimed = claim(&host, creator, session, &meeting, None, now);
            match app.meetings.put_meeting(&claimed, WriteCondition::Absent).await {
                Ok(()) => return finish(app, &host, claimed, &meeting).await,
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
            // Whatever was there goes, its Google event with it; then the loop creates anew.
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
            MeetingState::Ready => return Ok((MeetingView::of(&record).ok_or(MeetingError::CreationFailed)?, false)),
            MeetingState::Creating { .. } => {
                // The creator died: take over with a fresh request id.
                let claimed = claim(&host, creator, session, &meeting, Some(&record), now);
                match app.meetings.put_meeting(&claimed, WriteCondition::Version(record.revision)).await {
                    Ok(()) => return finish(app, &host, claimed, &meeting).await,
                    Err(StoreError::ConditionFailed) => continue,
                    Err(error) => return Err(error.into()),
                }
            }
        }
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
    let (state, provider, url) = match &meeting.existing {
        Some(link) => (MeetingState::Ready, link.provider.to_owned(), Some(link.url.clone())),
        None => (MeetingState::Creating { lease_until: now + CREATE_LEASE }, "google_meet".to_owned(), None),
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
        request_id: meeting.existing.is_none().then(crate::crypto::random::token),
        created_at: now,
        updated_at: now,
    }
}

/// Completes a claimed meeting: nothing more for an attached link; the Google event and its
/// conference for a Meet. On failure the claim is removed so a retry starts clean.
async fn finish(
    app: &App,
    host: &Owner,
    claimed: MeetingRecord,
    meeting: &NewMeeting,
) -> Result<(MeetingView, bool), MeetingError> {
    if claimed.state == MeetingState::Ready {
        tracing::info!(provider = %claimed.provider, "meeting link attached");
        return Ok((MeetingView::of(&claimed).ok_or(MeetingError::CreationFailed)?, true));
    }
    match meet::create_meet(app, host, &claimed, meeting).await {
        Ok(created) => {
            let ready = MeetingRecord {
                revision: claimed.revision + 1,
                state: MeetingState::Ready,
                meeting_url: Some(created.uri),
                conference_id: Some(created.conference_id),
                calendar_event_id: Some(created.event_id),
                calendar_id: Some(created.calendar_id),
                updated_at: app.clock.now(),
                ..claimed.clone()
            };
            app.meetings.put_meeting(&ready, WriteCondition::Version(claimed.revision)).await?;
            tracing::info!("google meet created");
            Ok((MeetingView::of(&ready).ok_or(MeetingError::CreationFailed)?, true))
        }
        Err(error) => {
            if let Err(e) = app.meetings.delete_meeting(&claimed.tenant, &claimed.session_id, claimed.revision).await {
                tracing::warn!(error = %ErrorChain(&e), "could not release the meeting claim");
            }
            Err(error)
        }
    }
}

/// The meeting, for its host, its participants and the service.
pub async fn get(app: &App, caller: &Principal, session: &SessionId) -> Result<MeetingView, MeetingError> {
    let record = app.meetings.get_meeting(caller.tenant(), session).await?.ok_or(MeetingError::NotFound)?;
    let allowed = match caller.user() {
        None => true,
        Some(user) => &record.host_user_id == user || record.participant_user_ids.contains(user),
    };
    if !allowed || record.state != MeetingState::Ready {
        return Err(MeetingError::NotFound);
    }
    MeetingView::of(&record).ok_or(MeetingError::NotFound)
}

/// Deletes the meeting (host or service), and the Google event calbridge created for it.
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

/// Removes a meeting record and the Google event calbridge created for it on the host's
/// calendar. An event the host's connection can no longer reach is left to them.
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
    if !app.meetings.delete_meeting(&record.tenant, &record.session_id, record.revision).await? {
        // Changed meanwhile (a concurrent delete): what the caller wanted has happened or will.
        tracing::info!("meeting changed while deleting it");
    }
    Ok(())
}
