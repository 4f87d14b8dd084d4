//! The stored forms of a [`SyncRecord`] and of a [`PendingChange`].
//!
//! Contract: `revision` is the counter writes are conditional on; the worker's lease is
//! `lease_until`, in epoch milliseconds.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{EpochMillis, invalid};
use crate::domain::{AppointmentId, TenantId, UserId};
use crate::ports::{PendingChange, StoreError, SyncRecord, SyncStatus};

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredSync {
    tenant_id: String,
    appointment_id: String,
    pub(crate) revision: u64,
    version: u64,
    user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    calendar_id: Option<String>,
    google_event_id: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_synced_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_until: Option<EpochMillis>,
}

impl StoredSync {
    pub(crate) fn from_record(record: &SyncRecord) -> Self {
        Self {
            tenant_id: record.tenant.to_string(),
            appointment_id: record.appointment_id.to_string(),
            revision: record.revision,
            version: record.version,
            user_id: record.user_id.to_string(),
            calendar_id: record.calendar_id.clone(),
            google_event_id: record.google_event_id.clone(),
            status: record.status.as_str().to_owned(),
            last_synced_at: record.last_synced_at,
            error: record.error.clone(),
            attempts: record.attempts,
            lease_until: record.lease_until.map(EpochMillis),
        }
    }

    pub(crate) fn into_record(self) -> Result<SyncRecord, StoreError> {
        Ok(SyncRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(|_| invalid("tenant_id"))?,
            appointment_id: AppointmentId::parse(&self.appointment_id).map_err(|_| invalid("appointment_id"))?,
            revision: self.revision,
            version: self.version,
            user_id: UserId::parse(&self.user_id).map_err(|_| invalid("user_id"))?,
            calendar_id: self.calendar_id,
            google_event_id: self.google_event_id,
            status: SyncStatus::parse(&self.status).ok_or_else(|| invalid("status"))?,
            last_synced_at: self.last_synced_at,
            error: self.error,
            attempts: self.attempts,
            lease_until: self.lease_until.map(|lease| lease.0),
        })
    }
}

/// The stored form of a [`PendingChange`]; `expires_at` is also each store's reaping time.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredPending {
    tenant_id: String,
    user_id: String,
    appointment_id: String,
    pub(crate) version: u64,
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    pub(crate) expires_at: Timestamp,
}

impl StoredPending {
    pub(crate) fn from_record(pending: &PendingChange) -> Self {
        Self {
            tenant_id: pending.tenant.to_string(),
            user_id: pending.user_id.to_string(),
            appointment_id: pending.appointment_id.to_string(),
            version: pending.version,
            action: pending.action.clone(),
            start: pending.start,
            end: pending.end,
            time_zone: pending.time_zone.clone(),
            title: pending.title.clone(),
            expires_at: pending.expires_at,
        }
    }

    pub(crate) fn into_record(self) -> Result<PendingChange, StoreError> {
        Ok(PendingChange {
            tenant: TenantId::parse(&self.tenant_id).map_err(|_| invalid("tenant_id"))?,
            user_id: UserId::parse(&self.user_id).map_err(|_| invalid("user_id"))?,
            appointment_id: AppointmentId::parse(&self.appointment_id).map_err(|_| invalid("appointment_id"))?,
            version: self.version,
            action: self.action,
            start: self.start,
            end: self.end,
            time_zone: self.time_zone,
            title: self.title,
            expires_at: self.expires_at,
        })
    }
}
