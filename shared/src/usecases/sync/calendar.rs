//! Applying one change at Google Calendar: upsert under the derived event id, removal from
//! the previous assignee's calendar, and what a user's unusable connection means for a sync.
//!
//! Permanent refusals: Google answering 400 or 403 (rate limits are `RateLimited`, never
//! this), or 404/410 while writing (the target calendar does not exist), will answer the same
//! to every retry of this version, so they are [`Applied::Refused`] with a stable reason
//! ([`refusal`]) rather than an error: the sync records `failed`, the queue acknowledges the
//! message, and the app sends a corrected (higher) version. A 404/410 on delete is success.

use std::collections::BTreeMap;

use oauth2::AccessToken;

use super::{Action, ValidChange};
use crate::app::App;
use crate::domain::{EventTitle, Owner, TenantId, UserId};
use crate::ports::{EventWrite, GoogleApiError, SendUpdates, SyncRecord, SyncStatus};
use crate::usecases::access_tokens::{AccessError, NotUsable};
use crate::usecases::calendar_session::CalendarSession;
use crate::usecases::retry::RetryPolicy;

pub(super) enum Applied {
    Written {
        calendar_id: String,
    },
    Removed,
    NotConnected,
    NeedsReconnect,
    /// Google refused this change for good; `reason` is stable (`google_refused: 400 badRequest`).
    Refused {
        reason: String,
    },
}

/// The stable reason for a refusal no retry can change, or `None` for everything else
/// (transient failures, unusable connections). Google's reason code is reduced to a short
/// token: it lands in the sync record and the app's answer.
pub(super) fn refusal(error: &AccessError) -> Option<String> {
    let (status, reason) = match error {
        AccessError::Google(GoogleApiError::Rejected { status, reason }) => (*status, reason.as_str()),
        AccessError::Google(GoogleApiError::NotFound) => (404, "notFound"),
        AccessError::Google(GoogleApiError::Gone) => (410, "deleted"),
        _ => return None,
    };
    let reason: String = reason.chars().filter(char::is_ascii_alphanumeric).take(48).collect();
    let reason = if reason.is_empty() { "unspecified".to_owned() } else { reason };
    Some(format!("{}{status} {reason}", super::REFUSED_PREFIX))
}

pub(super) async fn apply_at_google(
    app: &App,
    retry: &RetryPolicy,
    leased: &SyncRecord,
    change: &ValidChange,
) -> Result<Applied, AccessError> {
    let event_id = leased.google_event_id.as_str();
    let placed = leased.calendar_id.clone().filter(|_| leased.status != SyncStatus::Deleted);
    match change.action {
        Action::Delete => {
            // Where the event is; with no record of a placement, where a lost create would be.
            let (user, calendar) = match &placed {
                Some(calendar) => (leased.user_id.clone(), Some(calendar.clone())),
                None => (change.user.clone(), None),
            };
            match remove(app, retry, &change.tenant, &user, calendar, event_id).await {
                Ok(Ok(()) | Err(NotUsable::NotConnected)) => Ok(Applied::Removed),
                Ok(Err(NotUsable::NeedsReconnect)) => Ok(Applied::NeedsReconnect),
                Err(error) => refusal(&error).map(|reason| Applied::Refused { reason }).ok_or(error),
            }
        }
        Action::Create | Action::Update => {
            if let Some(calendar) = placed.clone().filter(|_| leased.user_id != change.user) {
                // Reassigned: take it off the previous user's calendar first.
                match remove(app, retry, &change.tenant, &leased.user_id, Some(calendar), event_id).await? {
                    Ok(()) => tracing::info!("event removed from the previous assignee's calendar"),
                    Err(state) => {
                        tracing::warn!(previous = ?state, "could not remove the event from the previous assignee")
                    }
                }
            }
            let owner = Owner::new(change.tenant.clone(), change.user.clone());
            let written = async {
                let mut session = CalendarSession::open(app, &owner).await?.with_retry(*retry);
                let calendar_id = placed
                    .filter(|_| leased.user_id == change.user)
                    .unwrap_or_else(|| session.connection().target_calendar());
                let event = event_write(app, change, event_id);
                upsert(app, &mut session, &calendar_id, &event).await?;
                Ok::<_, AccessError>(calendar_id)
            };
            match written.await {
                Ok(calendar_id) => Ok(Applied::Written { calendar_id }),
                Err(error) => match error.not_usable() {
                    Some(NotUsable::NotConnected) => Ok(Applied::NotConnected),
                    Some(NotUsable::NeedsReconnect) => Ok(Applied::NeedsReconnect),
                    None => refusal(&error).map(|reason| Applied::Refused { reason }).ok_or(error),
                },
            }
        }
    }
}

fn event_write(app: &App, change: &ValidChange, event_id: &str) -> EventWrite {
    let (start, end) = change.slot.expect("create and update carry a slot");
    let title = change
        .title
        .clone()
        .filter(|_| app.settings.sync.allow_event_titles)
        .map_or_else(|| app.settings.sync.event_title.clone(), EventTitle::into_string);
    EventWrite {
        id: Some(event_id.to_owned()),
        start,
        end,
        time_zone: change.time_zone.as_ref().map(|zone| zone.as_str().to_owned()),
        summary: title,
        private_properties: BTreeMap::from([
            ("calbridge_tenant".to_owned(), change.tenant.to_string()),
            ("calbridge_appointment".to_owned(), change.appointment.to_string()),
            ("calbridge_version".to_owned(), change.version.to_string()),
        ]),
        attendee_emails: Vec::new(),
        conference_request_id: None,
        status: Some("confirmed".to_owned()),
    }
}

/// Insert with the derived id; if Google already has it (a retry, a lost response, or a
/// cancelled event being revived), patch it instead.
async fn upsert(
    app: &App,
    session: &mut CalendarSession<'_>,
    calendar_id: &str,
    event: &EventWrite,
) -> Result<(), AccessError> {
    let insert = |token: AccessToken| async move {
        app.calendar.insert_event(&token, calendar_id, event, SendUpdates::None).await
    };
    match session.call(insert).await {
        Ok(_) => Ok(()),
        Err(AccessError::Google(GoogleApiError::Conflict { .. })) => {
            let event_id = event.id.as_deref().expect("synced events have an id");
            let patch = |token: AccessToken| async move {
                app.calendar.patch_event(&token, calendar_id, event_id, event, SendUpdates::None).await
            };
            session.call(patch).await.map(|_| ())
        }
        Err(error) => Err(error),
    }
}

/// Deletes the event from `user`'s calendar (`None`: the user's target calendar). An event
/// Google does not have, or already deleted, counts as done; `Ok(Err(state))` when the user's
/// connection cannot be used.
async fn remove(
    app: &App,
    retry: &RetryPolicy,
    tenant: &TenantId,
    user: &UserId,
    calendar: Option<String>,
    event_id: &str,
) -> Result<Result<(), NotUsable>, AccessError> {
    let removed = async {
        let owner = Owner::new(tenant.clone(), user.clone());
        let mut session = CalendarSession::open(app, &owner).await?.with_retry(*retry);
        let calendar_id = calendar.unwrap_or_else(|| session.connection().target_calendar());
        session.delete_event(&calendar_id, event_id).await
    };
    match removed.await {
        Ok(()) => Ok(Ok(())),
        Err(error) => error.not_usable().map(Err).ok_or(error),
    }
}
