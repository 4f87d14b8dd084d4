//! The stored form of a [`BookingLinkRecord`].
//!
//! Contract: the slot rules are one string attribute, `rules`, holding the rules' JSON as the
//! creator sent them (so a link serves exactly what it was minted with, whatever later changes
//! the rules object gains); the window is `time_min`/`time_max`; `created_by` is `service` or
//! the minting user's id under `created_by_user`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::invalid;
use crate::domain::{BookingLinkId, Interval, TenantId, UserId};
use crate::ports::{BookingLinkCreator, BookingLinkRecord, StoreError};

const BY_SERVICE: &str = "service";
const BY_USER: &str = "user";

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredBookingLink {
    tenant_id: String,
    link_id: String,
    created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_by_user: Option<String>,
    user_ids: Vec<String>,
    time_min: Timestamp,
    time_max: Timestamp,
    rules: String,
    expires_at: Timestamp,
    revoked: bool,
    created_at: Timestamp,
}

impl StoredBookingLink {
    pub(crate) fn from_record(record: &BookingLinkRecord) -> Self {
        let (created_by, created_by_user) = match &record.created_by {
            BookingLinkCreator::Service => (BY_SERVICE, None),
            BookingLinkCreator::User(user) => (BY_USER, Some(user.to_string())),
        };
        Self {
            tenant_id: record.tenant.to_string(),
            link_id: record.id.to_string(),
            created_by: created_by.to_owned(),
            created_by_user,
            user_ids: record.user_ids.iter().map(ToString::to_string).collect(),
            time_min: record.window.start,
            time_max: record.window.end,
            rules: serde_json::to_string(&record.rules).expect("slot rules serialize"),
            expires_at: record.expires_at,
            revoked: record.revoked,
            created_at: record.created_at,
        }
    }

    #[cfg(feature = "embedded-store")]
    pub(crate) fn revoke(&mut self) {
        self.revoked = true;
    }

    pub(crate) fn into_record(self) -> Result<BookingLinkRecord, StoreError> {
        let created_by = match (self.created_by.as_str(), self.created_by_user) {
            (BY_SERVICE, None) => BookingLinkCreator::Service,
            (BY_USER, Some(user)) => {
                BookingLinkCreator::User(UserId::parse(&user).map_err(|_| invalid("created_by_user"))?)
            }
            (BY_USER, None) => return Err(invalid("created_by_user")),
            _ => return Err(invalid("created_by")),
        };
        Ok(BookingLinkRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(|_| invalid("tenant_id"))?,
            id: BookingLinkId::parse(&self.link_id).map_err(|_| invalid("link_id"))?,
            created_by,
            user_ids: self
                .user_ids
                .iter()
                .map(|user| UserId::parse(user).map_err(|_| invalid("user_ids")))
                .collect::<Result<_, _>>()?,
            window: Interval::new(self.time_min, self.time_max).map_err(|_| invalid("time_max"))?,
            rules: serde_json::from_str(&self.rules).map_err(|_| invalid("rules"))?,
            expires_at: self.expires_at,
            revoked: self.revoked,
            created_at: self.created_at,
        })
    }
}
