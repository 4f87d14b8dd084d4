//! The meeting of one session (a Meet calbridge created, or an attached link), and its store.
//!
//! Contract: one record per (tenant, session); writes and deletes are conditional on
//! `revision`, which is how one creator wins under concurrency.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{StoreError, WriteCondition};
use crate::domain::{SessionId, TenantId, UserId};

/// Where a session's meeting stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingState {
    /// A Google Meet is being created by the holder of this lease (millisecond precision).
    Creating {
        lease_until: Timestamp,
    },
    Ready,
}

/// Who made a session's meeting. A meeting the service makes replaces one a user made, so a
/// user can never lock the real host out or show participants a link of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingCreator {
    /// The app's service, for the host it named.
    Service,
    /// The host themselves (only where `ALLOW_USER_MEETINGS` is on).
    Host,
}

/// The meeting of one session: a Google Meet calbridge created, or a link the host attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRecord {
    pub tenant: TenantId,
    pub session_id: SessionId,
    /// Bumped by every write; writes are conditional on the revision they read.
    pub revision: u64,
    pub state: MeetingState,
    pub host_user_id: UserId,
    pub participant_user_ids: Vec<UserId>,
    pub created_by: MeetingCreator,
    /// `google_meet`, `zoom`, `teams` or `other`.
    pub provider: String,
    pub meeting_url: Option<String>,
    /// The Meet conference id, or the Zoom meeting id.
    pub conference_id: Option<String>,
    /// The Google event calbridge created for a Meet (deleted with the meeting).
    pub calendar_event_id: Option<String>,
    pub calendar_id: Option<String>,
    /// The Meet `createRequest.requestId`: fresh and unique per session.
    pub request_id: Option<String>,
    /// When the meeting is scheduled, as last asked (a Zoom meeting is rescheduled when asked
    /// for other times). `None` on records written before it was kept.
    pub schedule: Option<Schedule>,
    /// The connection whose grant made the meeting at the provider (a Zoom meeting), so its
    /// end can be told to participants and its start link fetched with the same grant.
    pub made_with: Option<MadeWith>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// When a meeting is scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub start: Timestamp,
    pub end: Timestamp,
    /// The IANA zone the meeting is shown in, when the caller named one.
    pub time_zone: Option<String>,
}

/// The connection a provider meeting was made with: the host's own, or the tenant's
/// organisation connection (see [`crate::config::MeetConfig::organisation_user`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeWith {
    /// The connection's user: the host, or the organisation's reserved user.
    pub user: UserId,
    /// The provider account behind it (Zoom's user id): a reconnect to another account is
    /// another grant, which cannot see this meeting.
    pub account_id: String,
}

#[async_trait]
pub trait MeetingStore: Send + Sync {
    async fn get_meeting(&self, tenant: &TenantId, session_id: &SessionId)
    -> Result<Option<MeetingRecord>, StoreError>;

    /// Writes `record` if `condition` holds on its revision, else [`StoreError::ConditionFailed`].
    async fn put_meeting(&self, record: &MeetingRecord, condition: WriteCondition) -> Result<(), StoreError>;

    /// Deletes the meeting if it is still at `revision`; returns whether it was deleted.
    async fn delete_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        revision: u64,
    ) -> Result<bool, StoreError>;
}
