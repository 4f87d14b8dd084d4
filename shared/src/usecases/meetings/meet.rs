//! Creating a session's Google Meet: an event on the host's target calendar with a conference
//! request, polled until Google has made the conference, removed again if it never does.

use std::collections::BTreeMap;

use oauth2::AccessToken;

use super::{MAX_POLLS, MeetingError, NewMeeting, POLL_INTERVAL};
use crate::app::App;
use crate::domain::{Owner, session_meet_event_id};
use crate::errors::ErrorChain;
use crate::ports::{ConferenceState, EventWrite, GoogleApiError, MeetingRecord, SendUpdates};
use crate::usecases::access_tokens::AccessError;
use crate::usecases::calendar_session::CalendarSession;

/// What Google made for the Meet.
pub(super) struct CreatedMeet {
    pub calendar_id: String,
    pub event_id: String,
    pub conference_id: String,
    pub uri: String,
}

/// The event with its conference on the host's target calendar.
pub(super) async fn create_meet(
    app: &App,
    host: &Owner,
    claimed: &MeetingRecord,
    meeting: &NewMeeting,
) -> Result<CreatedMeet, MeetingError> {
    let mut session = CalendarSession::open(app, host).await?;
    let calendar_id = session.connection().target_calendar();
    let request_id = claimed.request_id.as_deref().unwrap_or_default();
    let event = EventWrite {
        id: Some(session_meet_event_id(&claimed.tenant, &claimed.session_id, request_id)),
        start: meeting.start,
        end: meeting.end,
        time_zone: meeting.time_zone.as_ref().map(|zone| zone.as_str().to_owned()),
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
    let mut created = match session.call(insert).await {
        Ok(created) => created,
        // Our own earlier attempt (a lost response, a crashed creator) already made it.
        Err(AccessError::Google(GoogleApiError::Conflict { .. })) => {
            let id = event_id.as_str();
            session.call(|token: AccessToken| async move { app.calendar.get_event(&token, calendar, id).await }).await?
        }
        Err(error) => return Err(error.into()),
    };
    for _ in 0..MAX_POLLS {
        match created.conference.clone() {
            Some(ConferenceState::Ready { conference_id, uri }) => {
                return Ok(CreatedMeet { calendar_id, event_id: created.id, conference_id, uri });
            }
            Some(ConferenceState::Failed) | None => break,
            Some(ConferenceState::Pending) => {
                tokio::time::sleep(POLL_INTERVAL).await;
                let id = created.id.clone();
                let id = id.as_str();
                created = session
                    .call(|token: AccessToken| async move { app.calendar.get_event(&token, calendar, id).await })
                    .await?;
            }
        }
    }
    tracing::warn!(conference = ?created.conference.as_ref().map(conference_label), "meet conference was not created");
    // Do not leave an event without a working link on the host's calendar.
    if let Err(error) = session.delete_event(&calendar_id, &created.id).await {
        tracing::warn!(error = %ErrorChain(&error), "could not remove the meet event");
    }
    Err(MeetingError::CreationFailed)
}

/// Moves the Meet's event to the session's new times (its conference stays as it is). Whom
/// Google tells is the same rule as for a create.
pub(super) async fn move_meet(app: &App, record: &MeetingRecord, meeting: &NewMeeting) -> Result<(), MeetingError> {
    let (Some(calendar_id), Some(event_id)) = (record.calendar_id.as_deref(), record.calendar_event_id.as_deref())
    else {
        return Ok(());
    };
    let host = Owner::new(record.tenant.clone(), record.host_user_id.clone());
    let mut session = CalendarSession::open(app, &host).await?;
    let event = EventWrite {
        id: None,
        start: meeting.start,
        end: meeting.end,
        time_zone: meeting.time_zone.as_ref().map(|zone| zone.as_str().to_owned()),
        summary: meeting.title.clone(),
        private_properties: BTreeMap::from([
            ("calbridge_tenant".to_owned(), record.tenant.to_string()),
            ("calbridge_session".to_owned(), record.session_id.to_string()),
        ]),
        attendee_emails: meeting.attendee_emails.clone(),
        conference_request_id: None,
        status: None,
    };
    let send_updates =
        if meeting.attendee_emails.is_empty() { SendUpdates::None } else { app.settings.meet.send_updates };
    let event = &event;
    session
        .call(|token: AccessToken| async move {
            app.calendar.patch_event(&token, calendar_id, event_id, event, send_updates).await
        })
        .await?;
    Ok(())
}

fn conference_label(state: &ConferenceState) -> &'static str {
    match state {
        ConferenceState::Pending => "pending",
        ConferenceState::Ready { .. } => "ready",
        ConferenceState::Failed => "failed",
    }
}
