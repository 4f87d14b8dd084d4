//! Appointment sync records in the `syncs` table, keyed `T#{tenant}#A#{appointment}`.
//! Contract: writes are conditional on `revision`.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{EmbeddedStore, Table, unavailable};
use crate::domain::{AppointmentId, TenantId, UserId};
use crate::ports::{StoreError, SyncRecord, SyncStatus, SyncStore, WriteCondition};

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
        let bytes = serde_json::to_vec(&StoredSync::from_record(record)).map_err(unavailable)?;
        let key = sync_key(&record.tenant, &record.appointment_id);
        self.write_if(SYNCS, key, bytes, condition, |r: &StoredSync| r.revision).await
    }
}

#[derive(Serialize, Deserialize)]
struct StoredSync {
    tenant_id: String,
    appointment_id: String,
    revision: u64,
    version: u64,
    user_id: String,
    calendar_id: Option<String>,
    google_event_id: String,
    status: String,
    last_synced_at: Option<Timestamp>,
    error: Option<String>,
    attempts: u32,
    lease_until: Option<Timestamp>,
}

impl StoredSync {
    fn from_record(r: &SyncRecord) -> Self {
        Self {
            tenant_id: r.tenant.to_string(),
            appointment_id: r.appointment_id.to_string(),
            revision: r.revision,
            version: r.version,
            user_id: r.user_id.to_string(),
            calendar_id: r.calendar_id.clone(),
            google_event_id: r.google_event_id.clone(),
            status: r.status.as_str().to_owned(),
            last_synced_at: r.last_synced_at,
            error: r.error.clone(),
            attempts: r.attempts,
            lease_until: r.lease_until,
        }
    }

    fn into_record(self) -> Result<SyncRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(what.to_owned());
        Ok(SyncRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(|_| corrupt("tenant_id"))?,
            appointment_id: AppointmentId::parse(&self.appointment_id).map_err(|_| corrupt("appointment_id"))?,
            revision: self.revision,
            version: self.version,
            user_id: UserId::parse(&self.user_id).map_err(|_| corrupt("user_id"))?,
            calendar_id: self.calendar_id,
            google_event_id: self.google_event_id,
            status: SyncStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            last_synced_at: self.last_synced_at,
            error: self.error,
            attempts: self.attempts,
            lease_until: self.lease_until,
        })
    }
}
