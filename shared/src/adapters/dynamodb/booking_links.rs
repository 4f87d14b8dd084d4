//! Booking-link items: pk `T#{tenant}`, sk `BOOKING#{link id}`, holding a
//! [`StoredBookingLink`] and `ttl` (a day after `expires_at`, in epoch seconds) so that DynamoDB
//! reaps expired links. Keyed under the tenant alone so that an admin listing can later query
//! one partition.
//!
//! Contract: created only where none exists; revoked by an `UpdateItem` conditional on the item
//! existing, so revoking an unknown link creates nothing.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::items::{self, from_item, to_item, value};
use super::{DynamoDbStore, Item, TTL_ATTRIBUTE, conditional};
use crate::adapters::stored_forms::StoredBookingLink;
use crate::domain::{BookingLinkId, TenantId};
use crate::ports::{BookingLinkRecord, BookingLinkStore, StoreError};

fn booking_link_key(tenant: &TenantId, id: &BookingLinkId) -> Item {
    items::key(format!("T#{tenant}"), &format!("BOOKING#{id}"))
}

#[async_trait]
impl BookingLinkStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %record.tenant))]
    async fn put_booking_link(&self, record: &BookingLinkRecord) -> Result<(), StoreError> {
        let mut item = to_item(&StoredBookingLink::from_record(record), booking_link_key(&record.tenant, &record.id));
        item.insert(TTL_ATTRIBUTE.to_owned(), AttributeValue::N(record.retain_until().as_second().to_string()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional("PutItem", result)?.map(drop).ok_or(StoreError::ConditionFailed)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn get_booking_link(
        &self,
        tenant: &TenantId,
        id: &BookingLinkId,
    ) -> Result<Option<BookingLinkRecord>, StoreError> {
        let Some(item) = self.get_item(booking_link_key(tenant, id)).await? else { return Ok(None) };
        from_item::<StoredBookingLink>(item)?.into_record().map(Some)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn revoke_booking_link(&self, tenant: &TenantId, id: &BookingLinkId) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(booking_link_key(tenant, id)))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET revoked = :revoked")
            .expression_attribute_values(":revoked", value(true))
            .send()
            .await;
        Ok(conditional("UpdateItem", result)?.is_some())
    }
}
