//! The stored form of a [`MeetingRecord`].
//!
//! Contract: `revision` is the counter writes and deletes are conditional on; the state is
//! `state` (`ready` or `creating`), and a meeting being created carries its creator's lease in
//! `lease_until`, in epoch milliseconds. `created_by` is `service` or `host`; records written
//! before it existed were all made by their host. `schedule_start`/`schedule_end` (epoch
//! milliseconds) and `schedule_time_zone` are when the meeting is scheduled; `made_with_user`
//! and `made_with_account` name the connection that made a provider meeting. Records written
//! before those existed have none of them. A start link is never part of this form.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{EpochMillis, invalid};
use crate::domain::{SessionId, TenantId, UserId};
use crate::ports::{MadeWith, MeetingCreator, MeetingRecord, MeetingState, Schedule, StoreError};

const READY: &str = "ready";
const CREATING: &str = "creating";
const BY_SERVICE: &str = "service";
const BY_HOST: &str = "host";

fn by_host() -> String {
    BY_HOST.to_owned()
}

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredMeeting {
    tenant_id: String,
    session_id: String,
    pub(crate) revision: u64,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_until: Option<EpochMillis>,
    host_user_id: String,
    participant_user_ids: Vec<String>,
    #[serde(default = "by_host")]
    created_by: String,
    provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meeting_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conference_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    calendar_event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    calendar_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule_start: Option<EpochMillis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule_end: Option<EpochMillis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule_time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    made_with_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    made_with_account: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl StoredMeeting {
    pub(crate) fn from_record(record: &MeetingRecord) -> Self {
        let (state, lease_until) = match record.state {
            MeetingState::Ready => (READY, None),
            MeetingState::Creating { lease_until } => (CREATING, Some(EpochMillis(lease_until))),
        };
        Self {
            tenant_id: record.tenant.to_string(),
            session_id: record.session_id.to_string(),
            revision: record.revision,
            state: state.to_owned(),
            lease_until,
            host_user_id: record.host_user_id.to_string(),
            participant_user_ids: record.participant_user_ids.iter().map(ToString::to_string).collect(),
            created_by: match record.created_by {
                MeetingCreator::Service => BY_SERVICE,
                MeetingCreator::Host => BY_HOST,
            }
            .to_owned(),
            provider: record.provider.clone(),
            meeting_url: record.meeting_url.clone(),
            conference_id: record.conference_id.clone(),
            calendar_event_id: record.calendar_event_id.clone(),
            calendar_id: record.calendar_id.clone(),
            request_id: record.request_id.clone(),
            schedule_start: record.schedule.as_ref().map(|s| EpochMillis(s.start)),
            schedule_end: record.schedule.as_ref().map(|s| EpochMillis(s.end)),
            schedule_time_zone: record.schedule.as_ref().and_then(|s| s.time_zone.clone()),
            made_with_user: record.made_with.as_ref().map(|m| m.user.to_string()),
            made_with_account: record.made_with.as_ref().map(|m| m.account_id.clone()),
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }

    pub(crate) fn into_record(self) -> Result<MeetingRecord, StoreError> {
        let state = match (self.state.as_str(), self.lease_until) {
            (READY, _) => MeetingState::Ready,
            (CREATING, Some(lease)) => MeetingState::Creating { lease_until: lease.0 },
            (CREATING, None) => return Err(invalid("lease_until")),
            _ => return Err(invalid("state")),
        };
        Ok(MeetingRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(|_| invalid("tenant_id"))?,
            session_id: SessionId::parse(&self.session_id).map_err(|_| invalid("session_id"))?,
            revision: self.revision,
            state,
            host_user_id: UserId::parse(&self.host_user_id).map_err(|_| invalid("host_user_id"))?,
            participant_user_ids: self
                .participant_user_ids
                .iter()
                .map(|user| UserId::parse(user).map_err(|_| invalid("participant_user_ids")))
                .collect::<Result<_, _>>()?,
            created_by: match self.created_by.as_str() {
                BY_SERVICE => MeetingCreator::Service,
                BY_HOST => MeetingCreator::Host,
                _ => return Err(invalid("created_by")),
            },
            provider: self.provider,
            meeting_url: self.meeting_url,
            conference_id: self.conference_id,
            calendar_event_id: self.calendar_event_id,
            calendar_id: self.calendar_id,
            request_id: self.request_id,
            schedule: match (self.schedule_start, self.schedule_end) {
                (Some(start), Some(end)) => {
                    Some(Schedule { start: start.0, end: end.0, time_zone: self.schedule_time_zone })
                }
                (None, None) => None,
                _ => return Err(invalid("schedule_end")),
            },
            made_with: match (self.made_with_user, self.made_with_account) {
                (Some(user), Some(account_id)) => {
                    Some(MadeWith { user: UserId::parse(&user).map_err(|_| invalid("made_with_user"))?, account_id })
                }
                (None, None) => None,
                _ => return Err(invalid("made_with_account")),
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}
