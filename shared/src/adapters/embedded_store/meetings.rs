//! Session meetings in the `meetings` table, keyed `T#{tenant}#S#{session}`.
//! Contract: writes and deletes are conditional on `revision`.

use async_trait::async_trait;
use jiff::Timestamp;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::{EmbeddedStore, Table, decode, unavailable};
use crate::domain::{SessionId, TenantId, UserId};
use crate::ports::{MeetingRecord, MeetingState, MeetingStore, StoreError, WriteCondition};

pub(super) const MEETINGS: Table = Table::new("meetings");

fn meeting_key(tenant: &TenantId, session_id: &SessionId) -> String {
    format!("T#{tenant}#S#{session_id}")
}

#[async_trait]
impl MeetingStore for EmbeddedStore {
    async fn get_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
    ) -> Result<Option<MeetingRecord>, StoreError> {
        self.read::<StoredMeeting>(MEETINGS, meeting_key(tenant, session_id))
            .await?
            .map(StoredMeeting::into_record)
            .transpose()
    }

    async fn put_meeting(&self, record: &MeetingRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&StoredMeeting::from_record(record)).map_err(unavailable)?;
        let key = meeting_key(&record.tenant, &record.session_id);
        self.write_if(MEETINGS, key, bytes, condition, |m: &StoredMeeting| m.revision).await
    }

    async fn delete_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        revision: u64,
    ) -> Result<bool, StoreError> {
        let id = meeting_key(tenant, session_id);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let deleted = {
                let mut table = txn.open_table(MEETINGS).map_err(unavailable)?;
                let current = match table.get(id.as_str()).map_err(unavailable)? {
                    Some(value) => Some(decode::<StoredMeeting>(value.value())?.revision),
                    None => None,
                };
                if current == Some(revision) {
                    table.remove(id.as_str()).map_err(unavailable)?;
                    true
                } else {
                    false
                }
            };
            txn.commit().map_err(unavailable)?;
            Ok(deleted)
        })
        .await
    }
}

#[derive(Serialize, Deserialize)]
struct StoredMeeting {
    tenant_id: String,
    session_id: String,
    revision: u64,
    /// `None` when ready; the creator's lease otherwise.
    creating_until: Option<Timestamp>,
    host_user_id: String,
    participant_user_ids: Vec<String>,
    provider: String,
    meeting_url: Option<String>,
    conference_id: Option<String>,
    calendar_event_id: Option<String>,
    calendar_id: Option<String>,
    request_id: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl StoredMeeting {
    fn from_record(r: &MeetingRecord) -> Self {
        Self {
            tenant_id: r.tenant.to_string(),
            session_id: r.session_id.to_string(),
            revision: r.revision,
            creating_until: match r.state {
                MeetingState::Creating { lease_until } => Some(lease_until),
                MeetingState::Ready => None,
            },
            host_user_id: r.host_user_id.to_string(),
            participant_user_ids: r.participant_user_ids.iter().map(ToString::to_string).collect(),
            provider: r.provider.clone(),
            meeting_url: r.meeting_url.clone(),
            conference_id: r.conference_id.clone(),
            calendar_event_id: r.calendar_event_id.clone(),
            calendar_id: r.calendar_id.clone(),
            request_id: r.request_id.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn into_record(self) -> Result<MeetingRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(what.to_owned());
        Ok(MeetingRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(|_| corrupt("tenant_id"))?,
            session_id: SessionId::parse(&self.session_id).map_err(|_| corrupt("session_id"))?,
            revision: self.revision,
            state: match self.creating_until {
                Some(lease_until) => MeetingState::Creating { lease_until },
                None => MeetingState::Ready,
            },
            host_user_id: UserId::parse(&self.host_user_id).map_err(|_| corrupt("host_user_id"))?,
            participant_user_ids: self
                .participant_user_ids
                .iter()
                .map(|u| UserId::parse(u).map_err(|_| corrupt("participant_user_ids")))
                .collect::<Result<_, _>>()?,
            provider: self.provider,
            meeting_url: self.meeting_url,
            conference_id: self.conference_id,
            calendar_event_id: self.calendar_event_id,
            calendar_id: self.calendar_id,
            request_id: self.request_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}
