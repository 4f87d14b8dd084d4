//! The user's calendars and the one that receives synced events.
//!
//! The list always comes fresh from Google's calendarList (all pages): calbridge keeps no
//! copy, so it is never stale. The selection is stored on the connection record; only a
//! calendar the user can write to (`owner` or `writer`) may be selected. No selection means
//! the primary calendar.

use serde::Serialize;

use super::access_tokens::{AccessError, NotUsable};
use super::calendar_session::CalendarSession;
use crate::app::App;
use crate::domain::{Owner, Provider};
use crate::ports::{
    CalendarEntry, ConnectionRecord, LostWrite, PRIMARY_CALENDAR, StoreError, WriteCondition, retry_lost_writes,
};

const MAX_CALENDAR_ID_LEN: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum CalendarsError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("calendar_id must be a non-empty calendar id")]
    InvalidCalendarId,
    #[error("the calendar is not in the user's calendar list")]
    NotFound,
    #[error("the user cannot add events to this calendar (needs owner or writer access)")]
    NotWritable,
}

impl LostWrite for CalendarsError {
    fn is_lost_write(&self) -> bool {
        matches!(self, CalendarsError::Access(error) if error.is_lost_write())
    }
}

impl From<StoreError> for CalendarsError {
    fn from(error: StoreError) -> Self {
        CalendarsError::Access(AccessError::Store(error))
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CalendarView {
    pub id: String,
    pub summary: String,
    pub primary: bool,
    pub access_role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    pub selected: bool,
}

#[derive(Debug, Serialize)]
pub struct CalendarsView {
    pub calendars: Vec<CalendarView>,
}

fn is_selected(entry: &CalendarEntry, selected: Option<&str>, selection_listed: bool) -> bool {
    match selected {
        Some(id) if selection_listed => entry.id == id,
        // No selection, or the selected calendar is gone from the list: the primary receives.
        _ => entry.primary,
    }
}

fn view(entry: CalendarEntry, selected: bool) -> CalendarView {
    CalendarView {
        id: entry.id,
        summary: entry.summary,
        primary: entry.primary,
        access_role: entry.access_role,
        time_zone: entry.time_zone,
        selected,
    }
}

/// The user's calendars, with the selected one marked.
#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user))]
pub async fn list(app: &App, owner: &Owner) -> Result<CalendarsView, CalendarsError> {
    let mut session = CalendarSession::open(app, owner).await?;
    let entries = session.call(|token| async move { app.calendar.list_calendars(&token).await }).await?;
    let selected = session.connection().selected_calendar_id.as_deref();
    let listed = entries.iter().any(|e| Some(e.id.as_str()) == selected);
    Ok(CalendarsView {
        calendars: entries
            .into_iter()
            .map(|entry| {
                let chosen = is_selected(&entry, selected, listed);
                view(entry, chosen)
            })
            .collect(),
    })
}

/// Makes `calendar_id` (or `primary`) the calendar that receives synced events.
#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user))]
pub async fn select(app: &App, owner: &Owner, calendar_id: &str) -> Result<CalendarView, CalendarsError> {
    let calendar_id = calendar_id.trim();
    if calendar_id.is_empty() || calendar_id.len() > MAX_CALENDAR_ID_LEN || calendar_id.chars().any(char::is_control) {
        return Err(CalendarsError::InvalidCalendarId);
    }
    let mut session = CalendarSession::open(app, owner).await?;
    let entries = session.call(|token| async move { app.calendar.list_calendars(&token).await }).await?;
    let entry = entries
        .into_iter()
        .find(|e| e.id == calendar_id || (calendar_id == PRIMARY_CALENDAR && e.primary))
        .ok_or(CalendarsError::NotFound)?;
    if !entry.is_writable() {
        return Err(CalendarsError::NotWritable);
    }
    let key = owner.connection(Provider::Google);
    retry_lost_writes(|| async {
        let record =
            app.connections.get_connection(&key).await?.ok_or(AccessError::NotUsable(NotUsable::NotConnected))?;
        let updated = ConnectionRecord {
            version: record.version + 1,
            selected_calendar_id: Some(entry.id.clone()),
            updated_at: app.clock.now(),
            ..record.clone()
        };
        // A token refresh or another selection landing first makes this lose: apply ours on top.
        app.connections.put_connection(&updated, WriteCondition::Version(record.version)).await?;
        Ok::<_, CalendarsError>(())
    })
    .await?;
    tracing::info!("calendar selected");
    Ok(view(entry, true))
}
