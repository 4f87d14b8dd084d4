//! Booking links in the `booking_links` table, keyed `T#{tenant}#B#{link id}`, each a
//! [`StoredBookingLink`]. Contract: created only where none exists; revoked in one write
//! transaction. Nothing reaps expired links: the local stack is short-lived.

use async_trait::async_trait;
use redb::ReadableTable;
use serde_json::{Map, Value};

use super::json::EmbeddedForm;
use super::{EmbeddedStore, Table, decode, encode, unavailable};
use crate::adapters::stored_forms::StoredBookingLink;
use crate::domain::{BookingLinkId, TenantId};
use crate::ports::{BookingLinkRecord, BookingLinkStore, StoreError};

pub(super) const BOOKING_LINKS: Table = Table::new("booking_links");

fn booking_link_key(tenant: &TenantId, id: &BookingLinkId) -> String {
    format!("T#{tenant}#B#{id}")
}

/// Booking links came after the shared stored forms: there is no older layout to upgrade.
impl EmbeddedForm for StoredBookingLink {
    fn upgrade(_: &mut Map<String, Value>) {}
}

#[async_trait]
impl BookingLinkStore for EmbeddedStore {
    async fn put_booking_link(&self, record: &BookingLinkRecord) -> Result<(), StoreError> {
        let key = booking_link_key(&record.tenant, &record.id);
        let bytes = encode(&StoredBookingLink::from_record(record))?;
        self.write(BOOKING_LINKS, move |table| {
            if table.get(key.as_str()).map_err(unavailable)?.is_some() {
                return Err(StoreError::ConditionFailed);
            }
            table.insert(key.as_str(), bytes.as_slice()).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn get_booking_link(
        &self,
        tenant: &TenantId,
        id: &BookingLinkId,
    ) -> Result<Option<BookingLinkRecord>, StoreError> {
        self.read::<StoredBookingLink>(BOOKING_LINKS, booking_link_key(tenant, id))
            .await?
            .map(StoredBookingLink::into_record)
            .transpose()
    }

    async fn revoke_booking_link(&self, tenant: &TenantId, id: &BookingLinkId) -> Result<bool, StoreError> {
        let key = booking_link_key(tenant, id);
        self.write(BOOKING_LINKS, move |table| {
            let mut form = match table.get(key.as_str()).map_err(unavailable)? {
                Some(value) => decode::<StoredBookingLink>(value.value())?,
                None => return Ok(false),
            };
            form.revoke();
            let bytes = encode(&form)?;
            table.insert(key.as_str(), bytes.as_slice()).map_err(unavailable)?;
            Ok(true)
        })
        .await
    }
}
