//! What calbridge knows about one appointment's mirror in Google Calendar, and its store.
//!
//! Contract: one record per (tenant, appointment); writes are conditional on `revision`.
//! Beside it, at most one [`PendingChange`] per (tenant, user, appointment): the latest change
//! that could not be applied because the user was not connected, listed by user.

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

/// The latest change to an appointment that calbridge could not apply because its user had
/// no usable connection, kept (times only; a title only where titles are allowed) so that it
/// is applied when the user connects. Gone by `expires_at` (the appointment's end, or a
/// fixed time for a delete): a change that can no longer matter is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChange {
    pub tenant: TenantId,
    pub user_id: UserId,
    pub appointment_id: AppointmentId,
    pub version: u64,
    /// `create`, `update` or `delete`, as the app sent it.
    pub action: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub time_zone: Option<String>,
    pub title: Option<String>,
    pub expires_at: Timestamp,
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

    /// Keeps `pending` unless a change of the same or a higher version is already kept for
    /// its (tenant, user, appointment); either way `Ok`.
    async fn put_pending(&self, pending: &PendingChange) -> Result<(), StoreError>;

    /// Up to `limit` of `user`'s pending changes that have not expired at `now`.
    async fn list_pending(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<PendingChange>, StoreError>;

    /// Forgets `user`'s pending change to `appointment` if its version is at most `up_to`
    /// (a newer one, kept meanwhile, stays).
    async fn delete_pending(
        &self,
        tenant: &TenantId,
        user: &UserId,
        appointment: &AppointmentId,
        up_to: u64,
    ) -> Result<(), StoreError>;
}
