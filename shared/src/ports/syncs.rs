//! What calbridge knows about one appointment's mirror in Google Calendar, and its store.
//!
//! Contract: one record per (tenant, appointment); writes are conditional on `revision`.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{StoreError, WriteCondition};
use crate::domain::{AppointmentId, TenantId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Google shows the appointment as of `version`.
    Synced,
    /// The appointment was deleted as of `version` (a tombstone: older events cannot revive it).
    Deleted,
    /// The user had no Google connection; nothing was written.
    SkippedNotConnected,
    /// The last attempt failed; `error` says why.
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "synced",
            SyncStatus::Deleted => "deleted",
            SyncStatus::SkippedNotConnected => "skipped_not_connected",
            SyncStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [SyncStatus::Synced, SyncStatus::Deleted, SyncStatus::SkippedNotConnected, SyncStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// What calbridge knows about one appointment's mirror in Google Calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRecord {
    pub tenant: TenantId,
    pub appointment_id: AppointmentId,
    /// Bumped by every write; writes are conditional on the revision they read.
    pub revision: u64,
    /// The highest app version applied (or settled as skipped/failed terminally); 0 = none.
    pub version: u64,
    /// The user whose calendar holds the event (the last assignee).
    pub user_id: UserId,
    /// The calendar that holds the event, once one was written.
    pub calendar_id: Option<String>,
    /// Derived from (tenant, appointment): the same on every attempt and every calendar.
    pub google_event_id: String,
    pub status: SyncStatus,
    pub last_synced_at: Option<Timestamp>,
    pub error: Option<String>,
    /// Attempts at the current version (reset when a newer version is applied).
    pub attempts: u32,
    /// While in the future, one worker is applying a version (millisecond precision).
    pub lease_until: Option<Timestamp>,
}

#[async_trait]
pub trait SyncStore: Send + Sync {
    async fn get_sync(
        &self,
        tenant: &TenantId,
        appointment_id: &AppointmentId,
    ) -> Result<Option<SyncRecord>, StoreError>;

    /// Writes `record` if `condition` holds on its revision, else [`StoreError::ConditionFailed`].
    async fn put_sync(&self, record: &SyncRecord, condition: WriteCondition) -> Result<(), StoreError>;
}
