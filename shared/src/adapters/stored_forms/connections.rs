//! The stored form of a [`ConnectionRecord`].
//!
//! Contract: the sealed tokens are the four `tokens_*` attributes; the form's own
//! `tenant_id`/`user_id`/`provider` must agree with the key it was found under; forms written
//! before providers were neutral name the account `google_account_id` and still read; forms
//! written before `organisation_id` was kept read it as `None`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Bytes, EpochMillis, Nonce, invalid, owner};
use crate::domain::ConnectionKey;
use crate::ports::{ConnectionRecord, ConnectionStatus, ConnectionSummary, SealedSecret, StoreError};

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredConnection {
    tenant_id: String,
    user_id: String,
    provider: String,
    pub(crate) version: u64,
    status: String,
    #[serde(alias = "google_account_id")]
    account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    organisation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    scopes: Vec<String>,
    connected_at: Timestamp,
    updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_used_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token_expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    selected_calendar_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_lease_until: Option<EpochMillis>,
    tokens_ct: Bytes,
    tokens_nonce: Nonce,
    tokens_edk: Bytes,
    tokens_key_id: String,
}

impl StoredConnection {
    pub(crate) fn from_record(record: &ConnectionRecord) -> Self {
        let sealed = &record.sealed_tokens;
        Self {
            tenant_id: record.key.tenant.to_string(),
            user_id: record.key.user.to_string(),
            provider: record.key.provider.as_str().to_owned(),
            version: record.version,
            status: record.status.as_str().to_owned(),
            account_id: record.account_id.clone(),
            organisation_id: record.organisation_id.clone(),
            email: record.email.clone(),
            scopes: record.scopes.clone(),
            connected_at: record.connected_at,
            updated_at: record.updated_at,
            last_error: record.last_error.clone(),
            last_used_at: record.last_used_at,
            access_token_expires_at: record.access_token_expires_at,
            selected_calendar_id: record.selected_calendar_id.clone(),
            refresh_lease_until: record.refresh_lease_until.map(EpochMillis),
            tokens_ct: Bytes(sealed.ciphertext.clone()),
            tokens_nonce: Nonce(sealed.nonce),
            tokens_edk: Bytes(sealed.encrypted_data_key.clone()),
            tokens_key_id: sealed.key_id.clone(),
        }
    }

    /// What the admin listing shows of it.
    #[cfg(feature = "embedded-store")]
    pub(crate) fn summary(&self) -> Result<ConnectionSummary, StoreError> {
        Ok(ConnectionSummary {
            key: self.key()?,
            status: ConnectionStatus::parse(&self.status).ok_or_else(|| invalid("status"))?,
            account_id: self.account_id.clone(),
            email: self.email.clone(),
            scopes: self.scopes.clone(),
            connected_at: self.connected_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
            last_error: self.last_error.clone(),
        })
    }

    /// Whether this is a connection of `provider` to its account `account_id`.
    #[cfg(feature = "embedded-store")]
    pub(crate) fn is_of_account(&self, provider: crate::domain::Provider, account_id: &str) -> bool {
        self.provider == provider.as_str() && self.account_id == account_id
    }

    /// The key the form names (`tenant_id`, `user_id`, `provider`).
    #[cfg(feature = "embedded-store")]
    pub(crate) fn key(&self) -> Result<ConnectionKey, StoreError> {
        owner(&self.tenant_id, &self.user_id, &self.provider)
    }

    /// The record, if the form is one stored under `key`.
    pub(crate) fn into_record(self, key: &ConnectionKey) -> Result<ConnectionRecord, StoreError> {
        let stored_key = owner(&self.tenant_id, &self.user_id, &self.provider)?;
        if &stored_key != key {
            return Err(StoreError::Corrupt("tenant_id/user_id/provider disagree with the key".to_owned()));
        }
        Ok(ConnectionRecord {
            key: stored_key,
            version: self.version,
            status: ConnectionStatus::parse(&self.status).ok_or_else(|| invalid("status"))?,
            account_id: self.account_id,
            organisation_id: self.organisation_id,
            email: self.email,
            scopes: self.scopes,
            connected_at: self.connected_at,
            updated_at: self.updated_at,
            last_error: self.last_error,
            last_used_at: self.last_used_at,
            access_token_expires_at: self.access_token_expires_at,
            selected_calendar_id: self.selected_calendar_id,
            refresh_lease_until: self.refresh_lease_until.map(|lease| lease.0),
            sealed_tokens: SealedSecret {
                ciphertext: self.tokens_ct.0,
                nonce: self.tokens_nonce.0,
                encrypted_data_key: self.tokens_edk.0,
                key_id: self.tokens_key_id,
            },
        })
    }
}

/// What the DynamoDB tenant index projects of a connection item: the listed fields, no
/// token, no lease. Its names are [`StoredConnection`]'s.
#[derive(Deserialize)]
pub(crate) struct StoredConnectionSummary {
    tenant_id: String,
    user_id: String,
    provider: String,
    status: String,
    #[serde(alias = "google_account_id")]
    account_id: String,
    #[serde(default)]
    email: Option<String>,
    scopes: Vec<String>,
    connected_at: Timestamp,
    updated_at: Timestamp,
    #[serde(default)]
    last_used_at: Option<Timestamp>,
    #[serde(default)]
    last_error: Option<String>,
}

/// The attributes [`StoredConnectionSummary`] reads, which the tenant index must project.
pub(crate) const SUMMARY_ATTRIBUTES: [&str; 11] = [
    "tenant_id",
    "user_id",
    "provider",
    "status",
    "account_id",
    "email",
    "scopes",
    "connected_at",
    "updated_at",
    "last_used_at",
    "last_error",
];

impl StoredConnectionSummary {
    pub(crate) fn into_summary(self) -> Result<ConnectionSummary, StoreError> {
        Ok(ConnectionSummary {
            key: owner(&self.tenant_id, &self.user_id, &self.provider)?,
            status: ConnectionStatus::parse(&self.status).ok_or_else(|| invalid("status"))?,
            account_id: self.account_id,
            email: self.email,
            scopes: self.scopes,
            connected_at: self.connected_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
            last_error: self.last_error,
        })
    }
}
