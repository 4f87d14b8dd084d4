//! The short-lived, single-use steps of the consent flow, and their store.
//!
//! Contract: a step is stored under the SHA-256 of its bearer value (the store never holds a
//! usable ticket or state) and taken atomically: of concurrent takers exactly one gets it.
//! The store also remembers verified webhook deliveries for a while, single-use the same way
//! ([`FlowStore::record_webhook_delivery`]).

use async_trait::async_trait;
use jiff::Timestamp;

use super::{SealedSecret, StoreError};
use crate::domain::ConnectionKey;

/// A short-lived, single-use step of the consent flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// Minted by `POST /connections/{provider}/authorize`, spent by the browser at `GET /launch`.
    LaunchTicket,
    /// Minted by `GET /launch` (the confirmation page), spent by its form's `POST /launch`.
    LaunchConfirmation,
    /// Minted at `/launch`, spent by Google's redirect to `/callback`.
    OAuthState,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::LaunchTicket => "ticket",
            FlowKind::LaunchConfirmation => "confirm",
            FlowKind::OAuthState => "state",
        }
    }
}

/// A pending flow step. Stored under the SHA-256 of its bearer value, so the store never holds
/// a usable ticket or state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub kind: FlowKind,
    /// Hex SHA-256 of the ticket or state id.
    pub id_hash: String,
    pub owner: ConnectionKey,
    pub return_to: String,
    pub login_hint: Option<String>,
    /// How the app names the user, shown on the launch page.
    pub account_label: Option<String>,
    /// Hex SHA-256 of the browser-binding cookie (confirmation and state records).
    pub browser_binding_hash: Option<String>,
    /// The PKCE verifier, sealed for (owner, `oauth_state`) (state records only).
    pub sealed_pkce_verifier: Option<SealedSecret>,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores a new flow record ([`StoreError::ConditionFailed`] if its id exists); stores also
    /// set a TTL from `expires_at`.
    async fn put_flow(&self, record: &FlowRecord) -> Result<(), StoreError>;

    /// Atomically removes and returns the record: of concurrent callers, exactly one gets it.
    /// Expiry is the caller's check (TTL deletion is lazy), so an expired record is returned.
    async fn take_flow(&self, kind: FlowKind, id_hash: &str) -> Result<Option<FlowRecord>, StoreError>;

    /// Records a verified webhook delivery, by the hex SHA-256 of its signature, until
    /// `expires_at` (stores set a TTL from it); `false` when that delivery was already
    /// recorded, which the caller refuses as a replay. Of concurrent callers exactly one gets
    /// `true`. A record past `expires_at` may still be there (TTL deletion is lazy) and still
    /// counts: the caller's timestamp check refuses such an old delivery anyway.
    async fn record_webhook_delivery(&self, signature_hash: &str, expires_at: Timestamp) -> Result<bool, StoreError>;
}
