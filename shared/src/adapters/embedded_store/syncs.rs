//! Appointment sync records in the `syncs` table, keyed `T#{tenant}#A#{appointment}`, each a
//! [`StoredSync`]. Contract: writes are conditional on `revision`.

use async_trait::async_trait;

use super::{EmbeddedStore, Table};
use crate::adapters::stored_forms::StoredSync;
use crate::domain::{AppointmentId, TenantId};
use crate::ports::{StoreError, SyncRecord, SyncStore, WriteCondition};

pub(super) const SYNCS: Table = Table::new("syncs");

fn sync_key(tenant: &TenantId, appointment_id: &AppointmentId) -> String {
    format!("T#{tenant}#A#{appointment_id}")
}

#[async_trait]
impl SyncStore for EmbeddedStore {
    async fn get_sync(
        &self,
        tenant: &TenantId,
        appointment_id: &AppointmentId,
    ) -> Result<Option<SyncRecord>, StoreError> {
        self.read::<StoredSync>(SYNCS, sync_key(tenant, appointment_id)).await?.map(StoredSync::into_record).transpose()
    }

    async fn put_sync(&self, record: &SyncRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let key = sync_key(&record.tenant, &record.appointment_id);
        self.write_if(SYNCS, key, &StoredSync::from_record(record), condition, |s| s.revision).await
    }
}
