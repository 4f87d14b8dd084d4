//! Sending mail as a user (Gmail's `users.messages.send`), and the idempotency records that
//! make a retried send safe.
//!
//! Contract of [`GmailSender`]: one HTTP exchange per call, the message given whole (RFC 5322
//! bytes; the adapter encodes them); failures are classified by whether the message may have
//! gone out: every variant of [`GmailError`] except [`GmailError::OutcomeUnknown`] means Gmail
//! did not send it (it answered with a refusal, or the request never left). Error values carry
//! no body, address or subject.
//!
//! Contract of [`SendStore`] (both stores, the same contract tests): one record per
//! (tenant, user, Idempotency-Key). [`SendStore::claim_send`] creates it atomically: of
//! concurrent claims of one key exactly one is [`Claim::Claimed`], every other sees the stored
//! record ([`Claim::Existing`]). A record past `expires_at` is as good as absent (DynamoDB
//! reaps it through `ttl`; a claim may overwrite it). The record holds a keyed fingerprint of
//! the request and message ids, never the message.

use async_trait::async_trait;
use jiff::Timestamp;
use oauth2::AccessToken;

use super::StoreError;
use crate::domain::{TenantId, UserId};

/// What Gmail answered for a sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub id: String,
    pub thread_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GmailError {
    /// 401: the access token is not (or no longer) accepted.
    #[error("gmail refused the access token")]
    Unauthorized,
    /// 403 without a rate reason: the grant lacks `gmail.send` (or the account may not send).
    #[error("gmail refused the send: insufficient permission")]
    Forbidden,
    /// 429, or 403 `rateLimitExceeded`/`userRateLimitExceeded`/`dailyLimitExceeded`.
    #[error("gmail is rate limiting the sender")]
    RateLimited { retry_after: Option<std::time::Duration>, daily: bool },
    /// 400: Gmail refused the message itself.
    #[error("gmail refused the message ({status})")]
    Rejected { status: u16 },
    /// 5xx, or a request that never reached Gmail (connect failure): not sent.
    #[error("gmail is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request went out and no answer came back (timeout, connection dropped): Gmail may
    /// have sent it. Gmail has no idempotency of its own, and `gmail.send` cannot read the
    /// mailbox to check.
    #[error("gmail's answer was lost; the message may have been sent")]
    OutcomeUnknown(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait GmailSender: Send + Sync {
    /// Sends `message` (RFC 5322) from the account `access_token` belongs to.
    async fn send(&self, access_token: &AccessToken, message: &[u8]) -> Result<SentMessage, GmailError>;
}

/// Which send a record is about: the caller's Idempotency-Key, per sending user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendKey {
    pub tenant: TenantId,
    pub user: UserId,
    /// 1-255 visible ASCII characters, as the client sent it.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendState {
    /// A caller holds the send until `lease_until`; past it, the outcome is unknown (the
    /// holder may have died before or after Gmail sent).
    Sending {
        lease_until: Timestamp,
    },
    Sent(SentMessage),
    /// Gmail's answer was lost: it may have been sent. Never sent again under this key.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRecord {
    /// A keyed hash of the request (the sending user and every field), to tell a retry from a
    /// different message under a reused key; not reversible to the content.
    pub fingerprint: String,
    pub state: SendState,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller created the record and owns the send.
    Claimed,
    /// A live record already holds the key.
    Existing(SendRecord),
}

#[async_trait]
pub trait SendStore: Send + Sync {
    /// Creates `record` for `key` unless a record that has not expired at `now` exists.
    async fn claim_send(&self, key: &SendKey, record: &SendRecord, now: Timestamp) -> Result<Claim, StoreError>;

    /// Replaces the state of the claimed record (to `sent` or `unknown`).
    async fn settle_send(&self, key: &SendKey, record: &SendRecord) -> Result<(), StoreError>;

    /// Removes a claim whose message certainly was not sent, so the key may be used again.
    async fn release_send(&self, key: &SendKey) -> Result<(), StoreError>;

    /// The record of `key`, expired or not.
    async fn get_send(&self, key: &SendKey) -> Result<Option<SendRecord>, StoreError>;
}
