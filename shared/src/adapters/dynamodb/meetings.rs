//! Session meeting items: pk `T#{tenant}#S#{session}`, sk `MEET`, holding a
//! [`StoredMeeting`]. Contract: one per (tenant, session); puts and deletes are conditional on
//! `revision`.

use async_trait::async_trait;

use super::items::{self, from_item, to_item, value};
use super::{DynamoDbStore, Item, conditional};
use crate::adapters::stored_forms::StoredMeeting;
use crate::domain::{SessionId, TenantId};
use crate::ports::{MeetingRecord, MeetingStore, StoreError, WriteCondition};

fn meeting_key(tenant: &TenantId, session_id: &SessionId) -> Item {
    items::key(format!("T#{tenant}#S#{session_id}"), "MEET")
}

#[async_trait]
impl MeetingStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn get_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
    ) -> Result<Option<MeetingRecord>, StoreError> {
        let Some(item) = self.get_item(meeting_key(tenant, session_id)).await? else { return Ok(None) };
        from_item::<StoredMeeting>(item)?.into_record().map(Some)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %record.tenant, revision = record.revision))]
    async fn put_meeting(&self, record: &MeetingRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let item = to_item(&StoredMeeting::from_record(record), meeting_key(&record.tenant, &record.session_id));
        self.put_item_if(item, condition, "revision").await
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn delete_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        revision: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(meeting_key(tenant, session_id)))
            .condition_expression("#revision = :revision")
            .expression_attribute_names("#revision", "revision")
            .expression_attribute_values(":revision", value(revision))
            .send()
            .await;
        Ok(conditional("DeleteItem", result)?.is_some())
    }
}
