//! Session meetings in the `meetings` table, keyed `T#{tenant}#S#{session}`, each a
//! [`StoredMeeting`]. Contract: writes and deletes are conditional on `revision`.

use async_trait::async_trait;
use redb::ReadableTable;

use super::{EmbeddedStore, Table, decode, unavailable};
use crate::adapters::stored_forms::StoredMeeting;
use crate::domain::{SessionId, TenantId};
use crate::ports::{MeetingRecord, MeetingStore, StoreError, WriteCondition};

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
        let key = meeting_key(&record.tenant, &record.session_id);
        self.write_if(MEETINGS, key, &StoredMeeting::from_record(record), condition, |m| m.revision).await
    }

    async fn delete_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        revision: u64,
    ) -> Result<bool, StoreError> {
        let id = meeting_key(tenant, session_id);
        self.write(MEETINGS, move |table| {
            let current = match table.get(id.as_str()).map_err(unavailable)? {
                Some(value) => Some(decode::<StoredMeeting>(value.value())?.revision),
                None => None,
            };
            if current != Some(revision) {
                return Ok(false);
            }
            table.remove(id.as_str()).map_err(unavailable)?;
            Ok(true)
        })
        .await
    }
}
