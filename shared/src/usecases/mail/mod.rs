//! Sending mail from a user's own Gmail account (`POST /messages/send`), at most once per
//! Idempotency-Key.
//!
//! ## Gmail is a connection kind of its own
//! A CRM asks "Connect Calendar" and "Connect Gmail" separately, so Gmail is a provider
//! ([`Provider::Gmail`], `gmail`) next to `google` (Calendar) and `zoom`: its routes
//! (`/connections/gmail/authorize|launch|callback`, `GET|DELETE /connections/gmail`), its
//! record, its sealed tokens (the provider is in the key, so in the KMS context and AAD), its
//! status and its disconnect all come from the provider architecture. It runs Google's OAuth
//! adapter with its own scope set, `openid email https://www.googleapis.com/auth/gmail.send`
//! (the minimum: `gmail.send` is a "sensitive" scope, verified by Google but without the
//! yearly security assessment "restricted" scopes need), offline access and
//! `include_granted_scopes=true`; a grant without `gmail.send` is refused at the callback as
//! `insufficient_scope` (and revoked unless shared). Calendar code only ever opens `google`
//! connections and this module only `gmail` ones: a token never serves the other kind. (With
//! `include_granted_scopes` Google answers the account's whole grant, so a Gmail connection
//! made after Calendar reports Calendar's scopes too; the rows stay apart all the same.)
//!
//! ## Revocation is grant-wide at Google
//! Google keeps one grant per (Google account, OAuth client); with `include_granted_scopes`
//! the Calendar and Gmail consents of one account through one client *are* one grant, and
//! revoking any of its tokens revokes it whole. So with the shared client (the default)
//! disconnecting one kind revokes at Google only when no other connection of either kind holds
//! a grant of the same account (same `sub`), in any tenant; otherwise it erases locally and
//! answers `revoked: false, revoke_skipped_reason: "grant_shared"` ([`crate::usecases::connect`]).
//! Trade-off: a user who disconnects Gmail but keeps Calendar still has `gmail.send` granted
//! at Google (calbridge holds no token for it any more; the user can remove it in their Google
//! account). A deployment that wants the kinds revoked independently names a separate OAuth
//! client for mail (`GOOGLE_MAIL_CLIENT_ID`, its secret `gmail_client_secret`): two clients are
//! two grants, each revoked on its own disconnect, at the cost of a second consent screen
//! registration and verification.
//!
//! ## Sending
//! 1. The body is parsed ([`request`]): header fields without CR/LF, valid mailboxes, at most
//!    50 recipients per field and 100 in all, a subject of at most 998 bytes, text and/or
//!    html. Every refusal is a 400 with a stable code, before anything is stored or sent.
//! 2. The sender is the caller (a user sends only as themselves; the service names `user_id`).
//! 3. With an `Idempotency-Key`, the key is claimed ([`SendStore::claim_send`], a conditional
//!    write) in state `sending` under a lease, keyed (tenant, user, key), kept 24 h. A key
//!    already held answers from its record: `sent` -> the first answer again (200,
//!    `Idempotent-Replayed: true`); `sending` under a live lease -> wait up to
//!    [`IN_PROGRESS_WAIT`] for it to settle, then 409 `send_in_progress`; `unknown`, or
//!    `sending` whose lease lapsed (its holder died before or after Gmail sent) -> 409
//!    `send_outcome_unknown`, never a second send. The same key with a different request
//!    (a keyed fingerprint of the user and every field) is 422 `idempotency_key_reused`.
//! 4. An access token for the `gmail` connection ([`access_tokens`]); not connected,
//!    `needs_reconnect`, or a stored grant without `gmail.send` are 409 with
//!    `error.provider: "gmail"`. The connection's verified email is the From.
//! 5. The message is built ([`message`], lettre's builder) and refused as `message_too_large`
//!    past Gmail's 25 MB (encoded); the request body itself is bounded by the handler.
//! 6. Gmail's `users.messages.send`. Sent -> the record becomes `sent` with the ids. A refusal
//!    (401 twice, 403, 429 or a daily limit, 5xx, 400) releases the key (nothing was sent, the
//!    client may retry with it): 429 `gmail_rate_limited` with `Retry-After`, 503 with
//!    `Retry-After`. A lost answer (timeout, dropped connection after the request was written)
//!    marks the record `unknown`: Gmail has no idempotency of its own and `gmail.send` cannot
//!    read the mailbox to look, so calbridge cannot know and refuses to guess.
//!
//! Without a key every request sends; a lost answer is still 409 `send_outcome_unknown`.
//! Message content (addresses, subject, bodies) is never logged nor stored: logs carry ids,
//! counts and sizes; the record carries a keyed hash and Gmail's ids.

pub mod message;
pub mod request;

use std::time::Duration;

use hmac::{Hmac, Mac};
use jiff::SignedDuration;
use lettre::message::Mailbox;
use secrecy::ExposeSecret;
use serde::Serialize;
use sha2::Sha256;
use tracing::Instrument;

use crate::app::App;
use crate::config::GMAIL_SEND_SCOPE;
use crate::domain::{ActingError, Principal, Provider, UnknownProvider};
use crate::errors::{ErrorChain, InputError};
use crate::ports::{Claim, GmailError, SecretsError, SendKey, SendRecord, SendState, SentMessage, StoreError};
use crate::usecases::access_tokens::{self, AccessError, NotUsable};
use crate::usecases::deadline;
use request::{MailRequest, SendBody};

/// How long an Idempotency-Key holds its first answer.
pub const KEY_RETENTION: SignedDuration = SignedDuration::from_hours(24);
/// How long a claim may stay `sending` before its outcome counts as unknown: longer than a
/// token refresh plus one Gmail call may take.
pub const SEND_LEASE: SignedDuration = SignedDuration::from_secs(30);
/// How long a repeat of a key being sent waits for the first to settle.
pub const IN_PROGRESS_WAIT: Duration = Duration::from_secs(3);
const WAIT_STEP: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{}", .0.message)]
    Invalid(InputError),
    #[error(transparent)]
    Acting(#[from] ActingError),
    #[error(transparent)]
    UnknownProvider(#[from] UnknownProvider),
    #[error("the Gmail connection cannot be used: {0:?}")]
    NotUsable(NotUsable),
    #[error("the Gmail connection does not grant gmail.send")]
    InsufficientScope,
    #[error("this Idempotency-Key was used for a different request")]
    KeyReused,
    #[error("a send with this Idempotency-Key is in progress")]
    InProgress,
    #[error("the outcome of the send with this Idempotency-Key is unknown")]
    OutcomeUnknown,
    #[error("gmail is rate limiting the sender")]
    RateLimited { retry_after: Duration, daily: bool },
    #[error("gmail refused the message")]
    Rejected,
    #[error("a dependency is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("access token failed")]
    Access(#[source] AccessError),
}

impl From<InputError> for MailError {
    fn from(error: InputError) -> Self {
        MailError::Invalid(error)
    }
}

impl From<SecretsError> for MailError {
    fn from(error: SecretsError) -> Self {
        MailError::Unavailable(Box::new(error))
    }
}

impl From<AccessError> for MailError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::NotUsable(state) => MailError::NotUsable(state),
            AccessError::UnknownProvider => MailError::UnknownProvider(UnknownProvider),
            other => MailError::Access(other),
        }
    }
}

/// What `POST /messages/send` answers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SentView {
    pub id: String,
    pub thread_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// A send's answer, and whether it repeats the first answer of its Idempotency-Key.
#[derive(Debug)]
pub struct SendOutcome {
    pub view: SentView,
    pub replayed: bool,
}

/// Sends `body` as the user `caller` acts for, at most once per `idempotency_key`.
pub async fn send(
    app: &App,
    caller: &Principal,
    body: &SendBody,
    idempotency_key: Option<String>,
) -> Result<SendOutcome, MailError> {
    let request = MailRequest::parse(body)?;
    let owner = caller.acting_for(body.user_id.as_deref(), "user_id")?.connection(Provider::Gmail);
    app.oauth(Provider::Gmail)?;
    let span = tracing::info_span!("mail.send", tenant = %owner.tenant, user = %owner.user,
        recipients = request.recipients(), keyed = idempotency_key.is_some());
    send_as(app, &owner, &request, idempotency_key).instrument(span).await
}

async fn send_as(
    app: &App,
    owner: &crate::domain::ConnectionKey,
    request: &MailRequest,
    idempotency_key: Option<String>,
) -> Result<SendOutcome, MailError> {
    let Some(raw_key) = idempotency_key else {
        let sent = deliver(app, owner, request).await.map_err(|failure| failure.error)?;
        return Ok(SendOutcome { view: view(sent, None), replayed: false });
    };
    let key = SendKey { tenant: owner.tenant.clone(), user: owner.user.clone(), idempotency_key: raw_key.clone() };
    let fingerprint = fingerprint(app, &owner.user, request).await?;
    let now = app.clock.now();
    let claim = SendRecord {
        fingerprint: fingerprint.clone(),
        state: SendState::Sending { lease_until: now + deadline::lease_for(SEND_LEASE) },
        expires_at: now + KEY_RETENTION,
    };
    if let Claim::Existing(existing) = app.sends.claim_send(&key, &claim, now).await? {
        return answer_from(app, &key, existing, &fingerprint).await;
    }
    match deliver(app, owner, request).await {
        Ok(sent) => {
            let settled = SendRecord { state: SendState::Sent(sent.clone()), ..claim };
            if let Err(e) = app.sends.settle_send(&key, &settled).await {
                // Sent all the same: the record stays `sending` and its repeats answer
                // `send_outcome_unknown` once the lease lapses, which is true to what is known.
                tracing::error!(error = %ErrorChain(&e), "recording the sent message failed");
            }
            Ok(SendOutcome { view: view(sent, Some(raw_key)), replayed: false })
        }
        Err(Failure { error, maybe_sent: true }) => {
            let unknown = SendRecord { state: SendState::Unknown, ..claim };
            if let Err(e) = app.sends.settle_send(&key, &unknown).await {
                tracing::error!(error = %ErrorChain(&e), "recording the unknown outcome failed");
            }
            Err(error)
        }
        Err(Failure { error, maybe_sent: false }) => {
            if let Err(e) = app.sends.release_send(&key).await {
                tracing::warn!(error = %ErrorChain(&e), "releasing the unsent key failed; it answers in progress until its lease lapses");
            }
            Err(error)
        }
    }
}

fn view(sent: SentMessage, idempotency_key: Option<String>) -> SentView {
    SentView { id: sent.id, thread_id: sent.thread_id, idempotency_key }
}

/// The answer of a key already held, waiting briefly for a send in progress to settle.
async fn answer_from(
    app: &App,
    key: &SendKey,
    mut record: SendRecord,
    fingerprint: &str,
) -> Result<SendOutcome, MailError> {
    if record.fingerprint != fingerprint {
        return Err(MailError::KeyReused);
    }
    let until = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
    loop {
        match record.state {
            SendState::Sent(sent) => {
                tracing::info!(message_id = %sent.id, "idempotent replay");
                return Ok(SendOutcome { view: view(sent, Some(key.idempotency_key.clone())), replayed: true });
            }
            SendState::Unknown => return Err(MailError::OutcomeUnknown),
            SendState::Sending { lease_until } if lease_until <= app.clock.now() => {
                return Err(MailError::OutcomeUnknown);
            }
            SendState::Sending { .. } if tokio::time::Instant::now() >= until => return Err(MailError::InProgress),
            SendState::Sending { .. } => {}
        }
        tokio::time::sleep(WAIT_STEP).await;
        match app.sends.get_send(key).await? {
            Some(next) => record = next,
            // Released: the first send did not happen; this one does not either, but says so.
            None => return Err(MailError::InProgress),
        }
    }
}

/// A failed delivery, and whether Gmail may have sent the message anyway.
struct Failure {
    error: MailError,
    maybe_sent: bool,
}

impl From<MailError> for Failure {
    fn from(error: MailError) -> Self {
        Failure { error, maybe_sent: false }
    }
}

/// Token, message, Gmail: one send, with one retry on a fresh token after a 401.
async fn deliver(
    app: &App,
    owner: &crate::domain::ConnectionKey,
    request: &MailRequest,
) -> Result<SentMessage, Failure> {
    let access = access_tokens::access_token(app, owner).await.map_err(MailError::from)?;
    if !access.record.scopes.iter().any(|s| s == GMAIL_SEND_SCOPE) {
        return Err(MailError::InsufficientScope.into());
    }
    let from: Mailbox = access
        .record
        .email
        .as_deref()
        .and_then(|email| email.parse().ok())
        .ok_or(MailError::NotUsable(NotUsable::NeedsReconnect))?;
    let raw = message::build(from, request).map_err(MailError::from)?;
    let mut token = access.token;
    for attempt in 0..2 {
        match app.gmail.send(&token, &raw).await {
            Ok(sent) => {
                tracing::info!(message_id = %sent.id, thread_id = %sent.thread_id, bytes = raw.len(), "mail sent");
                return Ok(sent);
            }
            Err(GmailError::Unauthorized) if attempt == 0 => {
                token = access_tokens::fresh_token(app, owner, Some(&token)).await.map_err(MailError::from)?.token;
            }
            Err(error) => return Err(gmail_failure(error)),
        }
    }
    Err(MailError::NotUsable(NotUsable::NeedsReconnect).into())
}

fn gmail_failure(error: GmailError) -> Failure {
    tracing::warn!(error = %ErrorChain(&error), "gmail did not send");
    let error = match error {
        GmailError::Unauthorized => MailError::NotUsable(NotUsable::NeedsReconnect),
        GmailError::Forbidden => MailError::InsufficientScope,
        GmailError::RateLimited { retry_after, daily } => MailError::RateLimited {
            // A daily limit lifts within a day; a minute's soon. Google may say when.
            retry_after: retry_after.unwrap_or(if daily { Duration::from_secs(3600) } else { Duration::from_secs(60) }),
            daily,
        },
        GmailError::Rejected { .. } => MailError::Rejected,
        GmailError::Unavailable(cause) => MailError::Unavailable(cause),
        GmailError::OutcomeUnknown(_) => return Failure { error: MailError::OutcomeUnknown, maybe_sent: true },
    };
    Failure { error, maybe_sent: false }
}

/// A keyed hash of who sends what: equal for a retry of the same request, different for any
/// other, and not reversible to the message (keyed with the state-signing key, so a stored
/// fingerprint cannot be checked against guessed content without the key).
async fn fingerprint(app: &App, user: &crate::domain::UserId, request: &MailRequest) -> Result<String, MailError> {
    let secrets = app.secrets.get().await?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secrets.state_signing_key.expose_secret())
        .expect("HMAC accepts keys of any length");
    mac.update(b"calbridge/mail-send/v1\0");
    mac.update(user.as_str().as_bytes());
    mac.update(b"\0");
    mac.update(&serde_json::to_vec(request).expect("a mail request serialises"));
    Ok(data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()))
}
