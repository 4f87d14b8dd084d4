//! Booking links: what a link serves (users, window, slot rules) and whether it was revoked,
//! and their store.
//!
//! Contract: one record per (tenant, link id), created once (an id that exists is refused with
//! [`StoreError::ConditionFailed`]); revoking sets `revoked` on an existing record and reports
//! whether there was one; nothing else changes a record. Stores also set a TTL a day after
//! `expires_at` ([`BOOKING_LINK_RETENTION`]), so expired links disappear without a sweep; until
//! then a record is returned even when expired (expiry is the caller's check).

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use super::StoreError;
use crate::domain::{BookingLinkId, Interval, TenantId, UserId};
use crate::usecases::slots::SlotsRequest;

/// How long a record is kept after its link expired before the store's TTL removes it.
pub const BOOKING_LINK_RETENTION: SignedDuration = SignedDuration::from_hours(24);

/// Who minted a link (and so, besides the service, who may revoke it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingLinkCreator {
    Service,
    User(UserId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingLinkRecord {
    pub tenant: TenantId,
    pub id: BookingLinkId,
    pub created_by: BookingLinkCreator,
    /// The users whose slots the link offers, in the order given, without duplicates.
    pub user_ids: Vec<UserId>,
    /// The range the link offers slots in.
    pub window: Interval,
    /// The slot rules, as the creator sent them (they parsed when the link was minted).
    pub rules: SlotsRequest,
    /// Whole seconds, as in the token.
    pub expires_at: Timestamp,
    pub revoked: bool,
    pub created_at: Timestamp,
}

impl BookingLinkRecord {
    /// When the store may forget this record.
    pub fn retain_until(&self) -> Timestamp {
        self.expires_at.saturating_add(BOOKING_LINK_RETENTION).expect("a signed duration adds to a timestamp")
    }
}

#[async_trait]
pub trait BookingLinkStore: Send + Sync {
    /// Stores a new link; [`StoreError::ConditionFailed`] if its id exists.
    async fn put_booking_link(&self, record: &BookingLinkRecord) -> Result<(), StoreError>;

    async fn get_booking_link(
        &self,
        tenant: &TenantId,
        id: &BookingLinkId,
    ) -> Result<Option<BookingLinkRecord>, StoreError>;

    /// Marks the link revoked; `false` when there is no such link (revoking twice is `true`).
    async fn revoke_booking_link(&self, tenant: &TenantId, id: &BookingLinkId) -> Result<bool, StoreError>;
}
