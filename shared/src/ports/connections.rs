//! A user's connection to one provider: the stored record and its store.
//!
//! Contract: the record's existence means "connected" (or "needs reconnect"); everything
//! secret is inside `sealed_tokens`; every write is conditional on the version it read, so a
//! late writer can neither overwrite a newer record nor resurrect a deleted one.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{SealedSecret, StoreError, WriteCondition};
use crate::domain::{ConnectionKey, Provider};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connected,
    /// The provider refused the refresh token (revoked, expired, password change): the user
    /// must go through consent again. No provider call is made for such a connection.
    NeedsReconnect,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::NeedsReconnect => "needs_reconnect",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "connected" => Some(ConnectionStatus::Connected),
            "needs_reconnect" => Some(ConnectionStatus::NeedsReconnect),
            _ => None,
        }
    }
}

/// One user's connection to one provider. Row existence means "connected" (or
/// "needs reconnect"); everything secret is inside `sealed_tokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub key: ConnectionKey,
    /// Bumped by every write; writes are conditional on the version they read.
    pub version: u64,
    pub status: ConnectionStatus,
    /// The provider's id of the account behind the grant (Google's `sub`, Zoom's user id).
    pub account_id: String,
    pub email: Option<String>,
    pub scopes: Vec<String>,
    pub connected_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_error: Option<String>,
    pub access_token_expires_at: Option<Timestamp>,
    /// The calendar that receives synced events; `None` means the primary calendar (see
    /// [`ConnectionRecord::target_calendar`]).
    pub selected_calendar_id: Option<String>,
    /// While in the future, one caller is refreshing the access token; see
    /// [`ConnectionStore::acquire_refresh_lease`]. Millisecond precision.
    pub refresh_lease_until: Option<Timestamp>,
    pub sealed_tokens: SealedSecret,
}

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    async fn get_connection(&self, key: &ConnectionKey) -> Result<Option<ConnectionRecord>, StoreError>;

    /// Writes `record` if `condition` holds, else [`StoreError::ConditionFailed`].
    async fn put_connection(&self, record: &ConnectionRecord, condition: WriteCondition) -> Result<(), StoreError>;

    /// Deletes unconditionally (the user's intent wins); returns whether a record existed.
    async fn delete_connection(&self, key: &ConnectionKey) -> Result<bool, StoreError>;

    /// Marks the record at exactly `version` as being refreshed until `until`, unless another
    /// caller holds an unexpired lease (one ending after `now`). Returns whether this caller
    /// got the lease. The version is not bumped: the holder's token write, conditional on
    /// `version`, both publishes the new token and releases the lease. This is what makes many
    /// containers refresh one expired token at most once.
    async fn acquire_refresh_lease(
        &self,
        key: &ConnectionKey,
        version: u64,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The keys of every stored connection, in any tenant, of `provider` to the provider's
    /// account `account_id`, in no particular order. It tells whether a grant at the provider
    /// is shared before revoking it (one Google grant covers every token of one account for
    /// our OAuth client). Read from an index in DynamoDB, so a connection written a moment ago
    /// may be missing (eventually consistent).
    async fn connections_of_account(
        &self,
        provider: Provider,
        account_id: &str,
    ) -> Result<Vec<ConnectionKey>, StoreError>;
}
