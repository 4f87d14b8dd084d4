//! Appointment sync items: pk `T#{tenant}#A#{appointment}`, sk `SYNC`.
//! Contract: one per (tenant, appointment); writes are conditional on `revision`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

use super::attributes::{Attributes, epoch_millis, number, put_optional_string, timestamp};
use super::{DynamoDbStore, Item, corrupt};
use crate::domain::{AppointmentId, TenantId, UserId};
use crate::ports::{StoreError, SyncRecord, SyncStatus, SyncStore, WriteCondition};

const SYNC_SK: &str = "SYNC";

fn sync_pk(tenant: &TenantId, appointment_id: &AppointmentId) -> String {
    format!("T#{tenant}#A#{appointment_id}")
}

fn sync_to_item(record: &SyncRecord) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(sync_pk(&record.tenant, &record.appointment_id)));
    item.insert("sk".into(), AttributeValue::S(SYNC_SK.to_owned()));
    item.insert("tenant_id".into(), AttributeValue::S(record.tenant.to_string()));
    item.insert("appointment_id".into(), AttributeValue::S(record.appointment_id.to_string()));
    item.insert("revision".into(), number(record.revision));
    item.insert("version".into(), number(record.version));
    item.insert("user_id".into(), AttributeValue::S(record.user_id.to_string()));
    put_optional_string(&mut item, "calendar_id", record.calendar_id.as_deref());
    item.insert("google_event_id".into(), AttributeValue::S(record.google_event_id.clone()));
    item.insert("status".into(), AttributeValue::S(record.status.as_str().to_owned()));
    if let Some(at) = record.last_synced_at {
        item.insert("last_synced_at".into(), timestamp(at));
    }
    put_optional_string(&mut item, "error", record.error.as_deref());
    item.insert("attempts".into(), number(u64::from(record.attempts)));
    if let Some(until) = record.lease_until {
        item.insert("lease_until".into(), epoch_millis(until));
    }
    item
}

fn sync_from_item(item: &Item) -> Result<SyncRecord, StoreError> {
    let item = Attributes(item);
    let lease_until = match item.0.get("lease_until") {
        None => None,
        Some(AttributeValue::N(ms)) => Some(
            ms.parse()
                .ok()
                .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                .ok_or_else(|| corrupt("lease_until"))?,
        ),
        Some(_) => return Err(corrupt("lease_until")),
    };
    Ok(SyncRecord {
        tenant: TenantId::parse(item.string("tenant_id")?).map_err(|_| corrupt("tenant_id"))?,
        appointment_id: AppointmentId::parse(item.string("appointment_id")?).map_err(|_| corrupt("appointment_id"))?,
        revision: item.number("revision")?,
        version: item.number("version")?,
        user_id: UserId::parse(item.string("user_id")?).map_err(|_| corrupt("user_id"))?,
        calendar_id: item.optional_string("calendar_id")?,
        google_event_id: item.string("google_event_id")?.to_owned(),
        status: SyncStatus::parse(item.string("status")?).ok_or_else(|| corrupt("status"))?,
        last_synced_at: item.optional_timestamp("last_synced_at")?,
        error: item.optional_string("error")?,
        attempts: u32::try_from(item.number("attempts")?).map_err(|_| corrupt("attempts"))?,
        lease_until,
    })
}

#[async_trait]
impl SyncStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn get_sync(
        &self,
        tenant: &TenantId,
        appointment_id: &AppointmentId,
    ) -> Result<Option<SyncRecord>, StoreError> {
        self.get_item(sync_pk(tenant, appointment_id), SYNC_SK).await?.map(|item| sync_from_item(&item)).transpose()
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %record.tenant, revision = record.revision))]
    async fn put_sync(&self, record: &SyncRecord, condition: WriteCondition) -> Result<(), StoreError> {
        self.put_item_if(sync_to_item(record), condition, "revision").await
    }
}
