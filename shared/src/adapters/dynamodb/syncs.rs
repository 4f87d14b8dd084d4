//! Appointment sync items: pk `T#{tenant}#A#{appointment}`, sk `SYNC`, holding a
//! [`StoredSync`]. Contract: one per (tenant, appointment); puts are conditional on `revision`.

use async_trait::async_trait;

use super::items::{self, from_item, to_item};
use super::{DynamoDbStore, Item};
use crate::adapters::stored_forms::StoredSync;
use crate::domain::{AppointmentId, TenantId};
use crate::ports::{StoreError, SyncRecord, SyncStore, WriteCondition};

fn sync_key(tenant: &TenantId, appointment_id: &AppointmentId) -> Item {
    items::key(format!("T#{tenant}#A#{appointment_id}"), "SYNC")
}

#[async_trait]
impl SyncStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn get_sync(
        &self,
        tenant: &TenantId,
        appointment_id: &AppointmentId,
    ) -> Result<Option<SyncRecord>, StoreError> {
        let Some(item) = self.get_item(sync_key(tenant, appointment_id)).await? else { return Ok(None) };
        from_item::<StoredSync>(item)?.into_record().map(Some)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %record.tenant, revision = record.revision))]
    async fn put_sync(&self, record: &SyncRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let item = to_item(&StoredSync::from_record(record), sync_key(&record.tenant, &record.appointment_id));
        self.put_item_if(item, condition, "revision").await
    }
}
