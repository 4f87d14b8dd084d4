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
//! look-alike such as `meet.google.com.evil.example` is refused. Access is all-or-nothing per
//! session: the host and listed participants of the same tenant see it; everyone else gets the
//! same 404 as for a session that does not exist.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oauth2::AccessToken;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::access_tokens::{AccessError, access_token, call_google_with};
use crate::app::App;
use crate::domain::{ConnectionKey, SessionId, TenantId, UserId};
use crate::ports::{
    ConferenceState, EventWrite, GoogleApiError, GoogleEvent, MeetingRecord, MeetingState, SendUpdates, StoreError,
    WriteCondition,
};

/// How long a creator holds a session while it talks to Google.
pub const CREATE_LEASE: SignedDuration = SignedDuration::from_secs(30);
/// How often, and how many times, a pending conference is looked at again.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
const MAX_POLLS: usize = 10;
const WAIT_STEP: Duration = Duration::from_millis(100);
const MAX_PEOPLE: usize = 50;
const MAX_TITLE_LEN: usize = 200;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingRequest {
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
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("no such meeting")]
    NotFound,
    #[error("the host has not connected a Google account")]
    NotConnected,
    #[error("the host's Google connection must be renewed")]
    NeedsReconnect,
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
        match error {
            AccessError::NotConnected => MeetingError::NotConnected,
            AccessError::NeedsReconnect => MeetingError::NeedsReconnect,
            other => MeetingError::Access(other),
        }
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> MeetingError {
    MeetingError::Invalid { code, message: message.into() }
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

/// A validated attached link and the provider it belongs to.
#[derive(Debug, PartialEq, Eq)]
pub struct AttachedLink {
    pub url: String,
    pub provider: &'static str,
}

/// Validates a link the host wants to attach.
pub fn parse_meeting_link(raw: &str, allowed_hosts: &[String]) -> Result<AttachedLink, MeetingError> {
    let refuse = |why: &str| invalid("invalid_meeting_url", format!("existing_url {why}"));
    let url = Url::parse(raw.trim()).map_err(|_| refuse("is not an absolute URL"))?;
    if url.scheme() != "https" {
        return Err(refuse("must use https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    if url.port().is_some() {
        return Err(refuse("must not name a port"));
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err(refuse("must name a meeting service by its host name"));
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let allowed = allowed_hosts.iter().any(|entry| match entry.strip_prefix("*.") {
        Some(parent) => host.ends_with(&format!(".{parent}")),
        None => host == *entry,
    });
    if !allowed {
        return Err(refuse("is not on an allowed meeting host"));
    }
    let provider = match host.as_str() {
        "meet.google.com" => "google_meet",
        h if h == "zoom.us" || h.ends_with(".zoom.us") => "zoom",
        "teams.microsoft.com" | "teams.live.com" => "teams",
        _ => "other",
    };
    Ok(AttachedLink { url: url.into(), provider })
}

/// The Google event id of one attempt at a session's Meet: base32hex of SHA-256 over tenant,
/// session and the attempt's request id. A retried insert of the same attempt (lost response)
/// hits the same id; a new attempt after a failed one gets a new event.
pub fn meet_event_id(tenant: &TenantId, session: &SessionId, request_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"calbridge/session-meet/v1|")
        .chain_update(tenant.as_str())
        .chain_update(b"|")
        .chain_update(session.as_str())
        .chain_update(b"|")
        .chain_update(request_id)
        .finalize();
    data_encoding::BASE32HEX_NOPAD.encode(&digest).to_ascii_lowercase()
}

/// Validated input of a create call.
struct NewMeeting {
    start: Timestamp,
    end: Timestamp,
    time_zone: Option<String>,
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
    if let Some(zone) = &request.time_zone {
        jiff::tz::TimeZone::get(zone)
            .map_err(|_| invalid("unknown_time_zone", format!("unknown time zone {zone:?}")))?;
    }
    let title =
        request.title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).unwrap_or_else(|| "Session".into());
    if title.chars().count() > MAX_TITLE_LEN || title.chars().any(char::is_control) {
        return Err(invalid("invalid_request", format!("title must be at most {MAX_TITLE_LEN} printable characters")));
    }
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
    Ok(NewMeeting {
        start,
        end,
        time_zone: request.time_zone,
        title,
        attendee_emails: request.attendee_emails,
        participants,
        existing,
    })
}

/// Creates (or returns) the session's meeting. `Ok((view, true))` when this call created it.
#[tracing::instrument(skip_all, fields(tenant = %host.tenant, session = %session))]
pub async fn create(
    app: &App,
    host: &ConnectionKey,
    session: &SessionId,
    request: MeetingRequest,
) -> Result<(MeetingView, bool), MeetingError> {
    let meeting = validate(app, request)?;
    let give_up_at = tokio::time::Instant::now() + CREATE_LEASE.unsigned_abs();
    loop {
        let now = app.clock.now();
        let current = app.meetings.get_meeting(&host.tenant, session).await?;
        match current {
            Some(record) if record.host_user_id != host.user => return Err(MeetingError::NotFound),
            Some(record) => match record.state {
                MeetingState::Ready => {
                    return Ok((MeetingView::of(&record).ok_or(MeetingError::CreationFailed)?, false));
                }
                MeetingState::Creating { lease_until } if lease_until > now => {
                    // Another call is creating this very meeting: wait for it.
                    if tokio::time::Instant::now() >= give_up_at {
                        return Err(MeetingError::Access(AccessError::Store(StoreError::Unavailable(
                            "the meeting is still being created".into(),
                        ))));
                    }
                    tokio::time::sleep(WAIT_STEP).await;
                }
                MeetingState::Creating { .. } => {
                    // The creator died: take over with a fresh request id.
                    let claimed = claim(host, session, &meeting, Some(&record), now);
                    match app.meetings.put_meeting(&claimed, WriteCondition::Version(record.revision)).await {
                        Ok(()) => return finish(app, host, claimed, &meeting).await,
                        Err(StoreError::ConditionFailed) => continue,
                        Err(error) => return Err(error.into()),
                    }
                }
            },
            None => {
                let claimed = claim(host, session, &meeting, None, now);
                match app.meetings.put_meeting(&claimed, WriteCondition::Absent).await {
                    Ok(()) => return finish(app, host, claimed, &meeting).await,
                    Err(StoreError::ConditionFailed) => continue,
                    Err(error) => return Err(error.into()),
                }
            }
        }
    }
}

fn claim(
    host: &ConnectionKey,
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
        provider,
        meeting_url: url,
        conference_id: None,
        calendar_event_id: None,
        calendar_id: None,
        request_id: meeting.existing.is_none().then(crate::random::token),
        created_at: now,
        updated_at: now,
    }
}

/// Completes a claimed meeting: nothing more for an attached link; the Google event and its
/// conference for a Meet. On failure the claim is removed so a retry starts clean.
async fn finish(
    app: &App,
    host: &ConnectionKey,
    claimed: MeetingRecord,
    meeting: &NewMeeting,
) -> Result<(MeetingView, bool), MeetingError> {
    if claimed.state == MeetingState::Ready {
        tracing::info!(provider = %claimed.provider, "meeting link attached");
        return Ok((MeetingView::of(&claimed).ok_or(MeetingError::CreationFailed)?, true));
    }
    match create_meet(app, host, &claimed, meeting).await {
        Ok((calendar_id, event_id, conference_id, uri)) => {
            let ready = MeetingRecord {
                revision: claimed.revision + 1,
                state: MeetingState::Ready,
                meeting_url: Some(uri),
                conference_id: Some(conference_id),
                calendar_event_id: Some(event_id),
                calendar_id: Some(calendar_id),
                updated_at: app.clock.now(),
                ..claimed.clone()
            };
            app.meetings.put_meeting(&ready, WriteCondition::Version(claimed.revision)).await?;
            tracing::info!("google meet created");
            Ok((MeetingView::of(&ready).ok_or(MeetingError::CreationFailed)?, true))
        }
        Err(error) => {
            if let Err(e) = app.meetings.delete_meeting(&claimed.tenant, &claimed.session_id, claimed.revision).await {
                tracing::warn!(error = %crate::http::ErrorChain(&e), "could not release the meeting claim");
            }
            Err(error)
        }
    }
}

/// The event with its conference on the host's selected calendar:
/// (calendar id, event id, conference id, Meet URL).
async fn create_meet(
    app: &App,
    host: &ConnectionKey,
    claimed: &MeetingRecord,
    meeting: &NewMeeting,
) -> Result<(String, String, String, String), MeetingError> {
    let access = access_token(app, host).await?;
    let calendar_id = access.record.selected_calendar_id.clone().unwrap_or_else(|| "primary".to_owned());
    let event = EventWrite {
        id: Some(meet_event_id(
            &claimed.tenant,
            &claimed.session_id,
            claimed.request_id.as_deref().unwrap_or_default(),
        )),
        start: meeting.start,
        end: meeting.end,
        time_zone: meeting.time_zone.clone(),
        summary: meeting.title.clone(),
        private_properties: BTreeMap::from([
            ("calbridge_tenant".to_owned(), claimed.tenant.to_string()),
            ("calbridge_session".to_owned(), claimed.session_id.to_string()),
        ]),
        attendee_emails: meeting.attendee_emails.clone(),
        conference_request_id: claimed.request_id.clone(),
        status: Some("confirmed".to_owned()),
    };
    let send_updates =
        if meeting.attendee_emails.is_empty() { SendUpdates::None } else { app.settings.meet.send_updates };
    let (calendar, event_ref) = (calendar_id.as_str(), &event);
    let insert =
        |token: AccessToken| async move { app.calendar.insert_event(&token, calendar, event_ref, send_updates).await };
    let event_id = event.id.clone().unwrap_or_default();
    let (mut created, mut access) = match call_google_with(app, access, insert).await {
        Ok(done) => done,
        // Our own earlier attempt (a lost response, a crashed creator) already made it.
        Err(AccessError::Google(GoogleApiError::Conflict { .. })) => {
            let access = access_token(app, host).await?;
            let id = event_id.as_str();
            call_google_with(app, access, |token: AccessToken| async move {
                app.calendar.get_event(&token, calendar, id).await
            })
            .await?
        }
        Err(error) => return Err(error.into()),
    };
    for _ in 0..MAX_POLLS {
        match created.conference.clone() {
            Some(ConferenceState::Ready { conference_id, uri }) => {
                return Ok((calendar_id, created.id, conference_id, uri));
            }
            Some(ConferenceState::Failed) | None => break,
            Some(ConferenceState::Pending) => {
                tokio::time::sleep(POLL_INTERVAL).await;
                let id = created.id.clone();
                let get = |token: AccessToken| {
                    let id = id.clone();
                    async move { app.calendar.get_event(&token, calendar, &id).await }
                };
                (created, access) = call_google_with(app, access, get).await?;
            }
        }
    }
    tracing::warn!(conference = ?created.conference.as_ref().map(conference_label), "meet conference was not created");
    // Do not leave an event without a working link on the host's calendar.
    remove_event(app, host, &calendar_id, &created).await;
    Err(MeetingError::CreationFailed)
}

fn conference_label(state: &ConferenceState) -> &'static str {
    match state {
        ConferenceState::Pending => "pending",
        ConferenceState::Ready { .. } => "ready",
        ConferenceState::Failed => "failed",
    }
}

async fn remove_event(app: &App, host: &ConnectionKey, calendar_id: &str, event: &GoogleEvent) {
    let Ok(access) = access_token(app, host).await else { return };
    let id = event.id.as_str();
    let delete =
        |token: AccessToken| async move { app.calendar.delete_event(&token, calendar_id, id, SendUpdates::None).await };
    match call_google_with(app, access, delete).await {
        Ok(_) | Err(AccessError::Google(GoogleApiError::NotFound | GoogleApiError::Gone)) => {}
        Err(error) => tracing::warn!(error = %crate::http::ErrorChain(&error), "could not remove the meet event"),
    }
}

/// The meeting, for its host and participants only.
pub async fn get(app: &App, caller: &ConnectionKey, session: &SessionId) -> Result<MeetingView, MeetingError> {
    let record = app.meetings.get_meeting(&caller.tenant, session).await?.ok_or(MeetingError::NotFound)?;
    let allowed = record.host_user_id == caller.user || record.participant_user_ids.contains(&caller.user);
    if !allowed || record.state != MeetingState::Ready {
        return Err(MeetingError::NotFound);
    }
    MeetingView::of(&record).ok_or(MeetingError::NotFound)
}

/// Deletes the meeting (host only), and the Google event calbridge created for it.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant, session = %session))]
pub async fn delete(app: &App, caller: &ConnectionKey, session: &SessionId) -> Result<(), MeetingError> {
    let record = app.meetings.get_meeting(&caller.tenant, session).await?.ok_or(MeetingError::NotFound)?;
    if record.host_user_id != caller.user {
        return Err(MeetingError::NotFound);
    }
    if let (Some(calendar_id), Some(event_id)) = (&record.calendar_id, &record.calendar_event_id) {
        let access = access_token(app, caller).await?;
        let delete = |token: AccessToken| async move {
            app.calendar.delete_event(&token, calendar_id, event_id, SendUpdates::None).await
        };
        match call_google_with(app, access, delete).await {
            Ok(_) | Err(AccessError::Google(GoogleApiError::NotFound | GoogleApiError::Gone)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    if !app.meetings.delete_meeting(&caller.tenant, session, record.revision).await? {
        // Changed meanwhile (a concurrent delete): what the caller wanted has happened or will.
        tracing::info!("meeting changed while deleting it");
    }
    tracing::info!("meeting deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        crate::config::DEFAULT_MEETING_HOSTS.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn links_of_each_provider_are_accepted() {
        for (url, provider) in [
            ("https://meet.google.com/abc-defg-hij", "google_meet"),
            ("https://zoom.us/j/123456789?pwd=abc", "zoom"),
            ("https://us02web.zoom.us/j/123456789", "zoom"),
            ("https://teams.microsoft.com/l/meetup-join/19%3ameeting", "teams"),
            ("https://teams.live.com/meet/9876", "teams"),
        ] {
            assert_eq!(parse_meeting_link(url, &hosts()).unwrap().provider, provider, "{url}");
        }
    }

    #[test]
    fn unsafe_and_look_alike_links_are_refused() {
        for url in [
            "http://meet.google.com/abc-defg-hij",
            "javascript:alert(1)",
            "https://meet.google.com.evil.example/abc",
            "https://evilzoom.us/j/1",
            "https://zoom.us.evil.example/j/1",
            "https://user:pass@zoom.us/j/1",
            "https://user@meet.google.com/abc",
            "https://meet.google.com:8443/abc",
            "https://142.250.0.1/abc",
            "//meet.google.com/abc",
            "meet.google.com/abc",
            "https://example.com/",
        ] {
            assert!(parse_meeting_link(url, &hosts()).is_err(), "{url} accepted");
        }
    }

    #[test]
    fn event_ids_are_valid_google_ids_and_differ_per_session() {
        let tenant = TenantId::parse("t1").unwrap();
        let a = meet_event_id(&tenant, &SessionId::parse("s1").unwrap(), "r1");
        let b = meet_event_id(&tenant, &SessionId::parse("s2").unwrap(), "r1");
        let c = meet_event_id(&tenant, &SessionId::parse("s1").unwrap(), "r2");
        assert!(a != b && a != c);
        assert_eq!(a, meet_event_id(&tenant, &SessionId::parse("s1").unwrap(), "r1"));
        assert!(a.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9')) && a.len() >= 5);
    }
}
