//! Appointment sync items: pk `T#{tenant}#A#{appointment}`, sk `SYNC`, holding a
//! [`StoredSync`]; pending changes: pk `T#{tenant}#U#{user}` (the user's partition, beside
//! their connections and budgets), sk `PENDING#{appointment}`, holding a [`StoredPending`] and
//! `ttl` = its `expires_at`, so a user's pending changes are one Query and need no index.
//!
//! Contract: one sync item per (tenant, appointment), puts conditional on `revision`; a pending
//! put replaces a kept change only with a higher version, a delete removes one only up to a
//! version (both conditional writes); listing drops what expired but TTL has not yet reaped.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

use super::items::{self, from_item, to_item, value};
use super::{DynamoDbStore, Item, TTL_ATTRIBUTE, conditional, sdk_unavailable};
use crate::adapters::stored_forms::{StoredPending, StoredSync};
use crate::domain::{AppointmentId, TenantId, UserId};
use crate::ports::{PendingChange, StoreError, SyncRecord, SyncStore, WriteCondition};

const PENDING_PREFIX: &str = "PENDING#";

fn sync_key(tenant: &TenantId, appointment_id: &AppointmentId) -> Item {
    items::key(format!("T#{tenant}#A#{appointment_id}"), "SYNC")
}

fn user_pk(tenant: &TenantId, user: &UserId) -> String {
    format!("T#{tenant}#U#{user}")
}

fn pending_key(tenant: &TenantId, user: &UserId, appointment: &AppointmentId) -> Item {
    items::key(user_pk(tenant, user), &format!("{PENDING_PREFIX}{appointment}"))
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

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %pending.tenant, version = pending.version))]
    async fn put_pending(&self, pending: &PendingChange) -> Result<(), StoreError> {
        let mut item = to_item(
            &StoredPending::from_record(pending),
            pending_key(&pending.tenant, &pending.user_id, &pending.appointment_id),
        );
        item.insert(TTL_ATTRIBUTE.to_owned(), AttributeValue::N(pending.expires_at.as_second().to_string()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #version < :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", value(pending.version))
            .send()
            .await;
        // A refused condition is a kept change at least as new: nothing to do.
        conditional("PutItem", result).map(drop)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant, limit))]
    async fn list_pending(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<PendingChange>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        while found.len() < limit {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(user_pk(tenant, user)))
                .expression_attribute_values(":prefix", AttributeValue::S(PENDING_PREFIX.to_owned()))
                .limit(i32::try_from(limit - found.len()).unwrap_or(i32::MAX))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| sdk_unavailable("Query", err))?;
            for item in output.items.unwrap_or_default() {
                let form: StoredPending = from_item(item)?;
                if form.expires_at > now {
                    found.push(form.into_record()?);
                }
            }
            match output.last_evaluated_key.filter(|key| !key.is_empty()) {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant, up_to))]
    async fn delete_pending(
        &self,
        tenant: &TenantId,
        user: &UserId,
        appointment: &AppointmentId,
        up_to: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(pending_key(tenant, user, appointment)))
            .condition_expression("#version <= :up_to")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":up_to", value(up_to))
            .send()
            .await;
        // Refused: nothing kept, or a newer change that stays.
        conditional("DeleteItem", result).map(drop)
    }
}
