//! The traits that face the outside world. Each is narrow, documented, and has at least two
//! implementations: the production adapter and an offline one (embedded store, local key,
//! in-process fakes). No SDK or HTTP-client type crosses these traits, so use cases and
//! handlers are tested without AWS or Google, and adapters are tested on the wire.

use async_trait::async_trait;
use jiff::Timestamp;
use oauth2::{AccessToken, AuthorizationCode, PkceCodeChallenge, PkceCodeVerifier, RefreshToken};
use secrecy::{SecretBox, SecretString};
use url::Url;

use crate::domain::{AppointmentId, ConnectionKey, ScopeSet, SessionId, TenantId, UserId};

// ---------------------------------------------------------------------------------------------
// Time

/// The current time. Injected so that expiry rules are tested without sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

// ---------------------------------------------------------------------------------------------
// Keys (KMS in production, a local master key offline)

/// The context a data key is bound to. It is the KMS encryption context and, serialised
/// canonically, the AES-GCM associated data: a sealed blob opens only under the exact
/// (tenant, user, provider, purpose) it was sealed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionContext {
    pairs: Vec<(&'static str, String)>,
}

/// What a sealed value is for; part of the encryption context so a blob sealed for one
/// purpose can never be opened as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealPurpose {
    /// The OAuth tokens of a connection.
    Tokens,
    /// The PKCE verifier of an in-flight consent.
    OAuthState,
}

impl SealPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            SealPurpose::Tokens => "oauth_tokens",
            SealPurpose::OAuthState => "oauth_state",
        }
    }
}

impl EncryptionContext {
    pub fn new(key: &ConnectionKey, purpose: SealPurpose) -> Self {
        // Sorted by key name: KMS treats the context as a map, and the AAD must be canonical.
        Self {
            pairs: vec![
                ("provider", key.provider.as_str().to_owned()),
                ("purpose", purpose.as_str().to_owned()),
                ("tenant_id", key.tenant.as_str().to_owned()),
                ("user_id", key.user.as_str().to_owned()),
            ],
        }
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.pairs.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// Canonical bytes for AES-GCM associated data: a JSON object with sorted keys.
    pub fn aad(&self) -> Vec<u8> {
        let map: serde_json::Map<String, serde_json::Value> =
            self.pairs.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone()))).collect();
        serde_json::to_vec(&map).expect("a map of strings always serialises")
    }
}

/// A fresh data key: the plaintext to seal with (never stored) and its encrypted form (stored).
pub struct DataKey {
    pub plaintext: SecretBox<[u8; 32]>,
    pub encrypted: Vec<u8>,
    /// The key that wrapped it (a KMS key ARN, or `local:<fingerprint>`).
    pub key_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The encrypted key does not open under this context or key: tampering or a blob moved
    /// between rows. Never retried.
    #[error("data key rejected: wrong encryption context, key or ciphertext")]
    Rejected,
    #[error("key service unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Envelope-encryption keys.
#[async_trait]
pub trait KeyProvider: Send + Sync {
    /// A fresh 256-bit data key bound to `context`.
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyError>;

    /// Unwraps a data key produced by `generate_data_key` with the same `context`.
    async fn decrypt_data_key(
        &self,
        encrypted: &[u8],
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<SecretBox<[u8; 32]>, KeyError>;
}

// ---------------------------------------------------------------------------------------------
// Storage

/// An envelope-encrypted secret as stored: nothing in it is usable without the key service
/// and the exact encryption context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub ciphertext: Vec<u8>,
    pub nonce: [u8; 12],
    pub encrypted_data_key: Vec<u8>,
    pub key_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connected,
    /// Google refused the refresh token (revoked, expired, password change): the user must
    /// go through consent again. No Google call is made for such a connection.
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
    pub google_account_id: String,
    pub email: Option<String>,
    pub scopes: Vec<String>,
    pub connected_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_error: Option<String>,
    pub access_token_expires_at: Option<Timestamp>,
    /// The calendar that receives synced events; `None` means the primary calendar.
    pub selected_calendar_id: Option<String>,
    /// While in the future, one caller is refreshing the access token; see
    /// [`ConnectionStore::acquire_refresh_lease`]. Millisecond precision.
    pub refresh_lease_until: Option<Timestamp>,
    pub sealed_tokens: SealedSecret,
}

/// The precondition of a connection write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteCondition {
    /// Create: fails if a record exists.
    Absent,
    /// Replace: fails unless the stored record exists with exactly this version. A writer
    /// that read an older version, or whose record was deleted meanwhile, loses.
    Version(u64),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the write's condition did not hold (concurrent change)")]
    ConditionFailed,
    #[error("stored record is malformed: {0}")]
    Corrupt(String),
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
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
}

/// A short-lived, single-use step of the consent flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// Minted by `POST /connections/google/authorize`, spent by the browser at `/launch`.
    LaunchTicket,
    /// Minted at `/launch`, spent by Google's redirect to `/callback`.
    OAuthState,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::LaunchTicket => "ticket",
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
    /// Hex SHA-256 of the browser-binding cookie (state records only).
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
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// The secrets calbridge's OAuth client needs.
pub struct AppSecrets {
    pub google_client_secret: SecretString,
    pub state_signing_key: SecretBox<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secret is malformed: {0}")]
    Malformed(String),
    #[error("secret store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn load(&self) -> Result<AppSecrets, SecretsError>;
}

// ---------------------------------------------------------------------------------------------
// Google OAuth / OpenID Connect

/// What Google granted in a token response. Tokens are `oauth2` secret types: `Debug` is
/// redacted and reading one takes an explicit `.secret()`.
#[derive(Debug)]
pub struct TokenGrant {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub expires_at: Option<Timestamp>,
    /// The scopes Google reports as granted (granular consent may drop some).
    pub granted_scopes: Option<ScopeSet>,
    pub id_token: Option<SecretString>,
}

/// The Google account behind a grant, from a validated id_token or the userinfo endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleAccount {
    pub subject: String,
    pub email: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GoogleOAuthError {
    /// The code, verifier or refresh token is invalid, used, expired or revoked.
    #[error("google rejected the grant (invalid_grant)")]
    InvalidGrant,
    /// Any other OAuth error response, e.g. `invalid_client`.
    #[error("google answered with OAuth error {code}")]
    Rejected { code: String },
    /// The identity in the response could not be validated.
    #[error("google identity could not be validated: {0}")]
    InvalidIdentity(String),
    /// Network failure, timeout, 5xx, 429 or an unparseable body.
    #[error("google unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait GoogleOAuth: Send + Sync {
    /// The consent-page URL for one flow (no I/O).
    fn authorization_url(&self, state: &str, pkce_challenge: PkceCodeChallenge, login_hint: Option<&str>) -> Url;

    /// Exchanges an authorization code, proving possession of the PKCE verifier.
    async fn exchange_code(
        &self,
        code: AuthorizationCode,
        pkce_verifier: PkceCodeVerifier,
    ) -> Result<TokenGrant, GoogleOAuthError>;

    /// Uses a refresh token for a new access token.
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenGrant, GoogleOAuthError>;

    /// Revokes the grant behind `refresh_token` at Google.
    async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), GoogleOAuthError>;

    /// Identifies the account: validates the id_token (signature, issuer, audience, expiry)
    /// when present, else asks the userinfo endpoint with the access token.
    async fn identify(&self, grant: &TokenGrant) -> Result<GoogleAccount, GoogleOAuthError>;
}

// ---------------------------------------------------------------------------------------------
// Google Calendar API

/// How a Google API call failed, classified for retrying and for the client's answer.
#[derive(Debug, thiserror::Error)]
pub enum GoogleApiError {
    /// 401: the access token is expired or revoked. Refresh once, then give up.
    #[error("google rejected the access token")]
    Unauthorized,
    /// 429, or 403 with reason `rateLimitExceeded` / `userRateLimitExceeded`.
    #[error("google rate limit")]
    RateLimited { retry_after: Option<std::time::Duration> },
    /// 5xx, timeouts, connection failures, unparseable bodies.
    #[error("google unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 404.
    #[error("not found at google")]
    NotFound,
    /// 410: the resource was deleted.
    #[error("deleted at google")]
    Gone,
    /// 409 (e.g. reason `duplicate` on an insert with a client-chosen id).
    #[error("conflict at google ({reason})")]
    Conflict { reason: String },
    /// Any other 4xx (e.g. 400 bad request, 403 insufficient permissions).
    #[error("google refused the request ({status} {reason})")]
    Rejected { status: u16, reason: String },
}

impl GoogleApiError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, GoogleApiError::RateLimited { .. } | GoogleApiError::Unavailable(_))
    }
}

/// One entry of the user's calendar list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEntry {
    pub id: String,
    pub summary: String,
    pub primary: bool,
    /// `owner`, `writer`, `reader` or `freeBusyReader`.
    pub access_role: String,
    pub time_zone: Option<String>,
}

impl CalendarEntry {
    /// Whether events can be written to this calendar.
    pub fn is_writable(&self) -> bool {
        matches!(self.access_role.as_str(), "owner" | "writer")
    }
}

/// FreeBusy's answer for one calendar: its busy intervals, or the reason it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarBusy {
    Busy(Vec<crate::domain::Interval>),
    Unreadable { reason: String },
}

/// An event as calbridge writes it: only what the product needs, nothing about patients or
/// clients unless the app explicitly allows titles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventWrite {
    /// A client-chosen id (base32hex, 5-1024 characters) makes inserts idempotent.
    pub id: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// IANA zone the event is shown in.
    pub time_zone: Option<String>,
    pub summary: String,
    /// `extendedProperties.private`: links the event back to calbridge's records.
    pub private_properties: std::collections::BTreeMap<String, String>,
    pub attendee_emails: Vec<String>,
    /// Asks Google to create a Meet conference with this request id.
    pub conference_request_id: Option<String>,
    /// `confirmed` (also restores a cancelled event on patch).
    pub status: Option<String>,
}

/// Where a Meet conference stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConferenceState {
    Pending,
    Ready { conference_id: String, uri: String },
    Failed,
}

/// An event as Google returned it (the fields calbridge reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEvent {
    pub id: String,
    /// `confirmed`, `tentative` or `cancelled`.
    pub status: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub summary: Option<String>,
    pub private_properties: std::collections::BTreeMap<String, String>,
    pub conference: Option<ConferenceState>,
}

/// Whom Google notifies about a change (`sendUpdates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendUpdates {
    All,
    ExternalOnly,
    #[default]
    None,
}

impl SendUpdates {
    pub fn as_str(self) -> &'static str {
        match self {
            SendUpdates::All => "all",
            SendUpdates::ExternalOnly => "externalOnly",
            SendUpdates::None => "none",
        }
    }
}

/// The Google Calendar v3 API, one HTTP exchange per call (retries are the caller's policy).
#[async_trait]
pub trait GoogleCalendar: Send + Sync {
    /// The user's calendar list, all pages.
    async fn list_calendars(&self, access_token: &AccessToken) -> Result<Vec<CalendarEntry>, GoogleApiError>;

    /// Busy intervals of up to 50 calendars within `window` (which must be one Google accepts).
    /// The map is keyed by the calendar ids as requested.
    async fn free_busy(
        &self,
        access_token: &AccessToken,
        window: crate::domain::Interval,
        calendar_ids: &[String],
    ) -> Result<std::collections::BTreeMap<String, CalendarBusy>, GoogleApiError>;

    /// `events.insert`. A duplicate client-chosen id is [`GoogleApiError::Conflict`].
    async fn insert_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event: &EventWrite,
        send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError>;

    /// `events.get` (cancelled events are returned with status `cancelled`).
    async fn get_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<GoogleEvent, GoogleApiError>;

    /// `events.patch` with every field of `event` (its `id` is ignored).
    async fn patch_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        event: &EventWrite,
        send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError>;

    /// `events.delete`; an already deleted event is [`GoogleApiError::Gone`], an unknown one
    /// [`GoogleApiError::NotFound`].
    async fn delete_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        send_updates: SendUpdates,
    ) -> Result<(), GoogleApiError>;
}

// ---------------------------------------------------------------------------------------------
// Appointment sync records

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Google shows the appointment as of `version`.
    Synced,
    /// The appointment was deleted as of `version` (a tombstone: older events cannot revive it).
    Deleted,
    /// The user had no Google connection; nothing was written.
    SkippedNotConnected,
    /// The last attempt failed; `error` says why.
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "synced",
            SyncStatus::Deleted => "deleted",
            SyncStatus::SkippedNotConnected => "skipped_not_connected",
            SyncStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [SyncStatus::Synced, SyncStatus::Deleted, SyncStatus::SkippedNotConnected, SyncStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// What calbridge knows about one appointment's mirror in Google Calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRecord {
    pub tenant: TenantId,
    pub appointment_id: AppointmentId,
    /// Bumped by every write; writes are conditional on the revision they read.
    pub revision: u64,
    /// The highest app version applied (or settled as skipped/failed terminally); 0 = none.
    pub version: u64,
    /// The user whose calendar holds the event (the last assignee).
    pub user_id: UserId,
    /// The calendar that holds the event, once one was written.
    pub calendar_id: Option<String>,
    /// Derived from (tenant, appointment): the same on every attempt and every calendar.
    pub google_event_id: String,
    pub status: SyncStatus,
    pub last_synced_at: Option<Timestamp>,
    pub error: Option<String>,
    /// Attempts at the current version (reset when a newer version is applied).
    pub attempts: u32,
    /// While in the future, one worker is applying a version (millisecond precision).
    pub lease_until: Option<Timestamp>,
}

#[async_trait]
pub trait SyncStore: Send + Sync {
    async fn get_sync(
        &self,
        tenant: &TenantId,
        appointment_id: &AppointmentId,
    ) -> Result<Option<SyncRecord>, StoreError>;

    /// Writes `record` if `condition` holds on its revision, else [`StoreError::ConditionFailed`].
    async fn put_sync(&self, record: &SyncRecord, condition: WriteCondition) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Session meetings

/// Where a session's meeting stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingState {
    /// A Google Meet is being created by the holder of this lease (millisecond precision).
    Creating {
        lease_until: Timestamp,
    },
    Ready,
}

/// The meeting of one session: a Google Meet calbridge created, or a link the host attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRecord {
    pub tenant: TenantId,
    pub session_id: SessionId,
    /// Bumped by every write; writes are conditional on the revision they read.
    pub revision: u64,
    pub state: MeetingState,
    pub host_user_id: UserId,
    pub participant_user_ids: Vec<UserId>,
    /// `google_meet`, `zoom`, `teams` or `other`.
    pub provider: String,
    pub meeting_url: Option<String>,
    pub conference_id: Option<String>,
    /// The Google event calbridge created for a Meet (deleted with the meeting).
    pub calendar_event_id: Option<String>,
    pub calendar_id: Option<String>,
    /// The Meet `createRequest.requestId`: fresh and unique per session.
    pub request_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait MeetingStore: Send + Sync {
    async fn get_meeting(&self, tenant: &TenantId, session_id: &SessionId)
    -> Result<Option<MeetingRecord>, StoreError>;

    /// Writes `record` if `condition` holds on its revision, else [`StoreError::ConditionFailed`].
    async fn put_meeting(&self, record: &MeetingRecord, condition: WriteCondition) -> Result<(), StoreError>;

    /// Deletes the meeting if it is still at `revision`; returns whether it was deleted.
    async fn delete_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        revision: u64,
    ) -> Result<bool, StoreError>;
}
