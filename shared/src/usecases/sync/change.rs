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

impl Action {
    const ALL: [Action; 3] = [Action::Create, Action::Update, Action::Delete];

    /// The name the app sends (serde's lowercase spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == raw)
    }
}

/// How far past the present a version may reach, read as Unix milliseconds. Versions are a
/// counter or a timestamp (seconds or milliseconds); either way a real one is never above
/// "now in milliseconds plus a day". A larger one would make every later real change stale.
pub const VERSION_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// The largest version accepted at `now`: Unix milliseconds of `now + VERSION_SKEW`.
pub fn max_version(now: Timestamp) -> u64 {
    u64::try_from((now + VERSION_SKEW).as_millisecond()).unwrap_or(0)
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
    /// Validates a change at `now`; `tenant` and `appointment` come from the trusted context
    /// (the event's detail for EventBridge, the caller and path for HTTP).
    pub fn parse(
        change: AppointmentChange,
        tenant: &str,
        appointment: &str,
        now: Timestamp,
    ) -> Result<Self, SyncError> {
        let invalid = |why: String| SyncError::Invalid(InputError::invalid_request(why));
        let tenant = TenantId::parse(tenant).map_err(|e| invalid(e.to_string()))?;
        let appointment = AppointmentId::parse(appointment).map_err(|e| invalid(e.to_string()))?;
        let user = UserId::parse(&change.user_id).map_err(|e| invalid(e.to_string()))?;
        if change.version == 0 {
            return Err(invalid("version must be a positive, increasing number".into()));
        }
        if change.version > max_version(now) {
            return Err(SyncError::Invalid(InputError::new(
                "version_out_of_range",
                format!(
                    "version may not exceed the current Unix time in milliseconds plus {} hours ({})",
                    VERSION_SKEW.as_hours(),
                    max_version(now)
                ),
            )));
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

/// What happened to one change (serialised as [`Outcome::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Synced,
    Deleted,
    SkippedNotConnected,
    FailedNeedsReconnect,
    /// Google refused the change for good (the record's `error` says why): not retried.
    FailedRejected,
    /// A version at or below the one already applied: nothing done.
    IgnoredStale,
}

impl Outcome {
    /// The snake_case name: in answers, and as the `outcome` metric dimension.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synced => "synced",
            Self::Deleted => "deleted",
            Self::SkippedNotConnected => "skipped_not_connected",
            Self::FailedNeedsReconnect => "failed_needs_reconnect",
            Self::FailedRejected => "failed_rejected",
            Self::IgnoredStale => "ignored_stale",
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn change(version: u64) -> AppointmentChange {
        AppointmentChange {
            tenant_id: None,
            appointment_id: None,
            user_id: "dr-lee".into(),
            action: Action::Delete,
            version,
            start: None,
            end: None,
            time_zone: None,
            title: None,
        }
    }

    #[test]
    fn versions_are_counters_or_timestamps_never_beyond_tomorrow() {
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let ms = u64::try_from(now.as_millisecond()).unwrap();
        for ok in [1, 42, 1_764_000_000, ms, max_version(now)] {
            assert!(ValidChange::parse(change(ok), "t", "a", now).is_ok(), "{ok}");
        }
        for refused in [max_version(now) + 1, ms * 1000, u64::MAX] {
            match ValidChange::parse(change(refused), "t", "a", now) {
                Err(SyncError::Invalid(e)) => assert_eq!(e.code, "version_out_of_range"),
                other => panic!("{refused}: {other:?}"),
            }
        }
    }
}
