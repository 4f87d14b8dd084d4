//! Appointment sync items: pk `T#{tenant}#A#{appointment}`, sk `SYNC`, holding a
//! [`StoredSync`]. Contract: one per (tenant, appointment); puts are conditional on `revision`.

use async_trait::async_trait;

use super::DynamoDbStore;
use super::items::{from_item, to_item};
use crate::adapters::stored_forms::StoredSync;
use crate::domain::{AppointmentId, TenantId};
use crate::ports::{StoreError, SyncRecord, SyncStore, WriteCondition};

const SYNC_SK: &str = "SYNC";

fn sync_pk(tenant: &TenantId, appointment_id: &AppointmentId) -> String {
    format!("T#{tenant}#A#{appointment_id}")
}

#[async_trait]
impl SyncStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn get_sync(
        &self,
        tenant: &TenantId,
        appointment_id: &AppointmentId,
    ) -> Result<Option<SyncRecord>, StoreError> {
        let Some(item) = self.get_item(sync_pk(tenant, appointment_id), SYNC_SK).await? else { return Ok(None) };
        from_item::<StoredSync>(item)?.into_record().map(Some)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %record.tenant, revision = record.revision))]
    async fn put_sync(&self, record: &SyncRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let item = to_item(&StoredSync::from_record(record), sync_pk(&record.tenant, &record.appointment_id), SYNC_SK);
        self.put_item_if(item, condition, "revision").await
    }
}
