//! Appointment sync records in the `syncs` table, keyed `T#{tenant}#A#{appointment}`, each a
//! [`StoredSync`]; pending changes in the `pending` table, keyed
//! `T#{tenant}#U#{user}#A#{appointment}` (a user's are one range of keys), each a
//! [`StoredPending`]. Contract: sync writes are conditional on `revision`; a pending change
//! replaces a kept one only with a higher version, and an expired one is never listed.

use async_trait::async_trait;
use jiff::Timestamp;
use redb::ReadableTable;
use serde_json::{Map, Value};

use super::json::{EmbeddedForm, decode, encode};
use super::{EmbeddedStore, Table, unavailable};
use crate::adapters::stored_forms::{StoredPending, StoredSync};
use crate::domain::{AppointmentId, TenantId, UserId};
use crate::ports::{PendingChange, StoreError, SyncRecord, SyncStore, WriteCondition};

pub(super) const SYNCS: Table = Table::new("syncs");
pub(super) const PENDING: Table = Table::new("pending");

fn sync_key(tenant: &TenantId, appointment_id: &AppointmentId) -> String {
    format!("T#{tenant}#A#{appointment_id}")
}

/// Ids never contain `#`, so a user's prefix never matches another user's keys.
fn pending_prefix(tenant: &TenantId, user: &UserId) -> String {
    format!("T#{tenant}#U#{user}#A#")
}

fn pending_key(tenant: &TenantId, user: &UserId, appointment: &AppointmentId) -> String {
    format!("{}{appointment}", pending_prefix(tenant, user))
}

/// Pending changes came after the shared stored forms: there is no older layout to upgrade.
impl EmbeddedForm for StoredPending {
    fn upgrade(_: &mut Map<String, Value>) {}
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

    async fn put_pending(&self, pending: &PendingChange) -> Result<(), StoreError> {
        let key = pending_key(&pending.tenant, &pending.user_id, &pending.appointment_id);
        let form = StoredPending::from_record(pending);
        let bytes = encode(&form)?;
        let version = form.version;
        self.write(PENDING, move |table| {
            let kept = match table.get(key.as_str()).map_err(unavailable)? {
                Some(value) => Some(decode::<StoredPending>(value.value())?.version),
                None => None,
            };
            if kept.is_none_or(|kept| kept < version) {
                table.insert(key.as_str(), bytes.as_slice()).map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_pending(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<PendingChange>, StoreError> {
        let prefix = pending_prefix(tenant, user);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(PENDING).map_err(unavailable)?;
            let mut found = Vec::new();
            for entry in table.range(prefix.as_str()..).map_err(unavailable)? {
                let (key, value) = entry.map_err(unavailable)?;
                if !key.value().starts_with(&prefix) || found.len() == limit {
                    break;
                }
                let form = decode::<StoredPending>(value.value())?;
                if form.expires_at > now {
                    found.push(form.into_record()?);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn delete_pending(
        &self,
        tenant: &TenantId,
        user: &UserId,
        appointment: &AppointmentId,
        up_to: u64,
    ) -> Result<(), StoreError> {
        let key = pending_key(tenant, user, appointment);
        self.write(PENDING, move |table| {
            let kept = match table.get(key.as_str()).map_err(unavailable)? {
                Some(value) => Some(decode::<StoredPending>(value.value())?.version),
                None => None,
            };
            if kept.is_some_and(|kept| kept <= up_to) {
                table.remove(key.as_str()).map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }
}
