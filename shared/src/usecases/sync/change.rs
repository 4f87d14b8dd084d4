//! An appointment change as the app sends it, validated once, and what the app is told back.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::{AppointmentId, EventTitle, TenantId, TimeZoneName, UserId};
use crate::errors::InputError;
use crate::ports::SyncRecord;

/// `detail` of an `AppointmentChanged` event, and the body of `POST /appointments/{id}/sync`.
/// Unknown fields are ignored (apps add their own), and are never copied anywhere.
#[derive(Debug, Clone, Deserialize)]
pub struct AppointmentChange {
    pub tenant_id: Option<String>,
    pub appointment_id: Option<String>,
    pub user_id: String,
    pub action: Action,
    pub version: u64,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub time_zone: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

/// A change that passed validation.
#[derive(Debug, Clone)]
pub struct ValidChange {
    pub tenant: TenantId,
    pub appointment: AppointmentId,
    pub user: UserId,
    pub action: Action,
    pub version: u64,
    /// Present for create and update.
    pub slot: Option<(Timestamp, Timestamp)>,
    pub time_zone: Option<TimeZoneName>,
    pub title: Option<EventTitle>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The input can never succeed: rejected, not retried.
    #[error("invalid appointment change: {0}")]
    Invalid(InputError),
    /// Google or AWS failed after retries: the caller should be retried later.
    #[error("appointment sync failed transiently")]
    Transient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ValidChange {
    /// Validates a change; `tenant` and `appointment` come from the trusted context (the
    /// event's detail for EventBridge, the caller and path for HTTP).
    pub fn parse(change: AppointmentChange, tenant: &str, appointment: &str) -> Result<Self, SyncError> {
        let invalid = |why: String| SyncError::Invalid(InputError::invalid_request(why));
        let tenant = TenantId::parse(tenant).map_err(|e| invalid(e.to_string()))?;
        let appointment = AppointmentId::parse(appointment).map_err(|e| invalid(e.to_string()))?;
        let user = UserId::parse(&change.user_id).map_err(|e| invalid(e.to_string()))?;
        if change.version == 0 {
            return Err(invalid("version must be a positive, increasing number".into()));
        }
        let time_zone =
            change.time_zone.as_deref().map(TimeZoneName::parse).transpose().map_err(|e| invalid(e.to_string()))?;
        let slot = match change.action {
            Action::Delete => None,
            Action::Create | Action::Update => match (change.start, change.end) {
                (Some(start), Some(end)) if start < end => Some((start, end)),
                (Some(_), Some(_)) => return Err(invalid("end must be after start".into())),
                _ => return Err(invalid("create and update need start and end".into())),
            },
        };
        let title = EventTitle::parse_optional(change.title.as_deref()).map_err(|e| invalid(e.to_string()))?;
        Ok(Self { tenant, appointment, user, action: change.action, version: change.version, slot, time_zone, title })
    }
}

/// What happened to one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Synced,
    Deleted,
    SkippedNotConnected,
    FailedNeedsReconnect,
    /// A version at or below the one already applied: nothing done.
    IgnoredStale,
}

/// The sync record as the app sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SyncView {
    pub appointment_id: String,
    pub user_id: String,
    pub google_event_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    pub version: u64,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_synced_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: u32,
}

impl From<&SyncRecord> for SyncView {
    fn from(r: &SyncRecord) -> Self {
        Self {
            appointment_id: r.appointment_id.to_string(),
            user_id: r.user_id.to_string(),
            google_event_id: r.google_event_id.clone(),
            calendar_id: r.calendar_id.clone(),
            version: r.version,
            status: r.status.as_str(),
            last_synced_at: r.last_synced_at,
            error: r.error.clone(),
            attempts: r.attempts,
        }
    }
}
