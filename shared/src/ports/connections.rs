//! A user's connection to one provider: the stored record and its store.
//!
//! Contract: the record's existence means "connected" (or "needs reconnect"); everything
//! secret is inside `sealed_tokens`; every write is conditional on the version it read, so a
//! late writer can neither overwrite a newer record nor resurrect a deleted one.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{SealedSecret, StoreError, WriteCondition};
use crate::domain::{ConnectionKey, Provider, TenantId, UserId};

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
    /// The provider's id of the organisation the account belongs to: Zoom's `account_id`;
    /// `None` for Google (and for a connection stored before it was kept).
    pub organisation_id: Option<String>,
    pub email: Option<String>,
    pub scopes: Vec<String>,
    pub connected_at: Timestamp,
    pub updated_at: Timestamp,
    /// Why the connection last failed, for the app to show: `<code>: <message>`, a stable
    /// snake_case code and a short sentence, never a provider's response or a token (see
    /// [`last_error_code`]). Cleared by a successful refresh or reconnect.
    pub last_error: Option<String>,
    /// When calbridge last used the connection's access token for a provider call, to a
    /// granularity of [`LAST_USED_GRANULARITY`] (see [`ConnectionStore::record_use`]).
    pub last_used_at: Option<Timestamp>,
    pub access_token_expires_at: Option<Timestamp>,
    /// The calendar that receives synced events; `None` means the primary calendar (see
    /// [`ConnectionRecord::target_calendar`]).
    pub selected_calendar_id: Option<String>,
    /// While in the future, one caller is refreshing the access token; see
    /// [`ConnectionStore::acquire_refresh_lease`]. Millisecond precision.
    pub refresh_lease_until: Option<Timestamp>,
    pub sealed_tokens: SealedSecret,
}

/// `last_used_at` is rewritten only when the stored value is at least this old, so a busy
/// connection costs one extra write per this period, not one per request.
pub const LAST_USED_GRANULARITY: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// The stable code of a stored `last_error` (`<code>: <message>`); an error stored before the
/// format was fixed is its own code when it is one snake_case word, else `unknown`.
pub fn last_error_code(last_error: &str) -> &str {
    let code = last_error.split_once(": ").map_or(last_error, |(code, _)| code);
    let snake = !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if snake { code } else { "unknown" }
}

/// What the admin listing shows of a connection: no token, no sealed blob, no lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSummary {
    pub key: ConnectionKey,
    pub status: ConnectionStatus,
    pub account_id: String,
    pub email: Option<String>,
    pub scopes: Vec<String>,
    pub connected_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

impl From<&ConnectionRecord> for ConnectionSummary {
    fn from(record: &ConnectionRecord) -> Self {
        Self {
            key: record.key.clone(),
            status: record.status,
            account_id: record.account_id.clone(),
            email: record.email.clone(),
            scopes: record.scopes.clone(),
            connected_at: record.connected_at,
            updated_at: record.updated_at,
            last_used_at: record.last_used_at,
            last_error: record.last_error.clone(),
        }
    }
}

/// One page of a tenant's connections ([`ConnectionStore::list_connections`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionQuery {
    /// Only connections to this provider.
    pub provider: Option<Provider>,
    /// Only connections in this status.
    pub status: Option<ConnectionStatus>,
    /// Start after this connection (user, provider), exclusive: the last one of the previous page.
    pub after: Option<(UserId, Provider)>,
    /// At most this many (at least 1).
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionPage {
    /// In the listing order: by user id, then provider name, comparing bytes.
    pub connections: Vec<ConnectionSummary>,
    /// Whether connections matching the query follow the last one.
    pub more: bool,
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

    /// Sets `last_used_at` to `at` on the record at exactly `version` whose `last_used_at` is
    /// still `previous` (what the caller read), touching nothing else (not `version`, not the
    /// tokens, not the lease). Returns whether it wrote. A concurrent refresh or reconnect
    /// bumps the version, so this can never undo one; of concurrent callers that read the same
    /// record, one writes.
    async fn record_use(
        &self,
        key: &ConnectionKey,
        version: u64,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// One page of `tenant`'s connections matching `query`, ordered by user id then provider
    /// (bytewise on `{user}#{provider}`), never another tenant's. Read from an index in
    /// DynamoDB, so eventually consistent: a connection written a moment ago may be missing,
    /// one deleted a moment ago may still show.
    async fn list_connections(&self, tenant: &TenantId, query: &ConnectionQuery) -> Result<ConnectionPage, StoreError>;
}
