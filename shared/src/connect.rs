//! Connecting a user's Google account: authorize -> launch -> callback, status, disconnect.
//!
//! The flow has two single-use, expiring steps, each stored under the hash of its bearer value:
//! 1. `authorize` (app, JWT): mints a launch *ticket* for the caller and an allow-listed
//!    return URL. The app opens the launch URL in the user's browser.
//! 2. `launch` (browser): spends the ticket, mints a signed *state*, a PKCE pair and a random
//!    browser-binding secret. The state record keeps the sealed verifier and the binding's
//!    hash; the secret goes to the browser as a `__Host-` cookie; the browser goes to Google.
//! 3. `callback` (browser, from Google): refuses a state that is forged, expired, already used
//!    or arriving in another browser, without redirecting anywhere. Past that the return URL
//!    is trusted, so every other failure redirects there with `status=error&reason=<code>`.
//!    Success exchanges the code (with the verifier), checks the granted scopes, identifies
//!    the Google account, seals the tokens and stores the connection.
//!
//! Nothing is stored for a failed callback, and no value of a token, code, verifier, state,
//! ticket or cookie is ever logged.

use jiff::{SignedDuration, Timestamp};
use oauth2::{AuthorizationCode, PkceCodeChallenge, PkceCodeVerifier};
use secrecy::ExposeSecret;
use serde::Serialize;
use subtle::ConstantTimeEq;
use url::Url;

use crate::app::App;
use crate::domain::{ConnectionKey, ReturnTo, ReturnToError, ScopeSet};
use crate::oauth_state::{self, sha256_hex};
use crate::ports::{
    ConnectionRecord, ConnectionStatus, EncryptionContext, FlowKind, FlowRecord, GoogleAccount, GoogleOAuthError,
    SealPurpose, StoreError, TokenGrant, WriteCondition,
};
use crate::tokens::{self, StoredTokens, TokensError};

/// How long a launch ticket is valid: the app opens it right away.
pub const TICKET_TTL: SignedDuration = SignedDuration::from_secs(5 * 60);
/// How long the user has on Google's consent screen.
pub const STATE_TTL: SignedDuration = SignedDuration::from_secs(15 * 60);
/// The cookie that binds a consent to the browser that started it.
pub const BINDING_COOKIE: &str = "__Host-calbridge-oauth";
const MAX_LOGIN_HINT_LEN: usize = 320;
/// Attempts at the read-modify-write of a connection before giving up on contention.
const WRITE_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    InvalidReturnTo(#[from] ReturnToError),
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error("this connect link has expired or was already used; start again from the app")]
    InvalidTicket,
    #[error("this sign-in response is invalid, expired or was already used; start again from the app")]
    InvalidState,
    #[error("this sign-in was started in another browser; start again from the app on this device")]
    BrowserMismatch,
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("sealing failed")]
    Tokens(#[from] TokensError),
    #[error("secrets unavailable")]
    Secrets(#[from] crate::ports::SecretsError),
}

// ---------------------------------------------------------------------------------------------
// 1. authorize

#[derive(Debug, Serialize)]
pub struct LaunchTicket {
    pub launch_url: String,
    pub expires_at: Timestamp,
}

#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user))]
pub async fn authorize(
    app: &App,
    owner: &ConnectionKey,
    return_to: Option<&str>,
    login_hint: Option<&str>,
) -> Result<LaunchTicket, ConnectError> {
    let return_to = app.settings.allowed_return_to.resolve(return_to)?;
    let login_hint = login_hint.map(parse_login_hint).transpose()?;
    let ticket = crate::random::token();
    let expires_at = app.clock.now() + TICKET_TTL;
    app.flows
        .put_flow(&FlowRecord {
            kind: FlowKind::LaunchTicket,
            id_hash: sha256_hex(&ticket),
            owner: owner.clone(),
            return_to: return_to.as_str().to_owned(),
            login_hint,
            browser_binding_hash: None,
            sealed_pkce_verifier: None,
            expires_at,
        })
        .await?;
    let mut launch_url = app.settings.google.launch_url();
    launch_url.query_pairs_mut().append_pair("ticket", &ticket);
    tracing::info!("launch ticket issued");
    Ok(LaunchTicket { launch_url: launch_url.into(), expires_at })
}

fn parse_login_hint(raw: &str) -> Result<String, ConnectError> {
    let hint = raw.trim();
    if hint.is_empty() || hint.len() > MAX_LOGIN_HINT_LEN || hint.chars().any(char::is_control) {
        return Err(ConnectError::InvalidRequest("login_hint must be an email address or Google account id"));
    }
    Ok(hint.to_owned())
}

// ---------------------------------------------------------------------------------------------
// 2. launch

pub struct LaunchRedirect {
    /// Google's consent page for this flow.
    pub location: Url,
    /// The browser-binding secret to set as [`BINDING_COOKIE`].
    pub binding_cookie: String,
    pub cookie_max_age: SignedDuration,
}

#[tracing::instrument(skip_all)]
pub async fn launch(app: &App, ticket: &str) -> Result<LaunchRedirect, ConnectError> {
    let now = app.clock.now();
    let record = app
        .flows
        .take_flow(FlowKind::LaunchTicket, &sha256_hex(ticket))
        .await?
        .filter(|record| record.expires_at > now)
        .ok_or(ConnectError::InvalidTicket)?;
    let secrets = app.secrets.get().await?;

    let state = oauth_state::mint(secrets.state_signing_key.expose_secret(), now + STATE_TTL);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let binding_cookie = crate::random::token();
    let sealed_verifier = app
        .vault
        .seal(&EncryptionContext::new(&record.owner, SealPurpose::OAuthState), verifier.secret().as_bytes())
        .await
        .map_err(TokensError::from)?;
    app.flows
        .put_flow(&FlowRecord {
            kind: FlowKind::OAuthState,
            id_hash: sha256_hex(&state),
            owner: record.owner.clone(),
            return_to: record.return_to,
            login_hint: record.login_hint.clone(),
            browser_binding_hash: Some(sha256_hex(&binding_cookie)),
            sealed_pkce_verifier: Some(sealed_verifier),
            expires_at: now + STATE_TTL,
        })
        .await?;
    let location = app.google.authorization_url(&state, challenge, record.login_hint.as_deref());
    tracing::info!(tenant = %record.owner.tenant, user = %record.owner.user, "consent started");
    Ok(LaunchRedirect { location, binding_cookie, cookie_max_age: STATE_TTL })
}

// ---------------------------------------------------------------------------------------------
// 3. callback

/// The query Google redirects back with.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub iss: Option<String>,
}

/// Why a trusted flow failed; sent to the app as `reason=<code>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    AccessDenied,
    AuthorizationFailed,
    InvalidIssuer,
    InvalidRequest,
    ExchangeFailed,
    InsufficientScope,
    NoRefreshToken,
    IdentityFailed,
    ServerError,
}

impl FailureReason {
    pub fn code(self) -> &'static str {
        match self {
            FailureReason::AccessDenied => "access_denied",
            FailureReason::AuthorizationFailed => "authorization_failed",
            FailureReason::InvalidIssuer => "invalid_issuer",
            FailureReason::InvalidRequest => "invalid_request",
            FailureReason::ExchangeFailed => "exchange_failed",
            FailureReason::InsufficientScope => "insufficient_scope",
            FailureReason::NoRefreshToken => "no_refresh_token",
            FailureReason::IdentityFailed => "identity_failed",
            FailureReason::ServerError => "server_error",
        }
    }
}

pub enum CallbackOutcome {
    /// Redirect the browser to the app: connected, or a failure the app should show.
    Redirect { location: Url, result: Result<(), FailureReason> },
    /// The state cannot be trusted: answer 400, redirect nowhere.
    Rejected(ConnectError),
}

#[tracing::instrument(skip_all)]
pub async fn callback(app: &App, query: CallbackQuery, binding_cookie: Option<&str>) -> CallbackOutcome {
    let flow = match trusted_flow(app, query.state.as_deref(), binding_cookie).await {
        Ok(flow) => flow,
        Err(error) => {
            tracing::warn!(error = %error, "callback rejected");
            return CallbackOutcome::Rejected(error);
        }
    };
    let Ok(return_to) = app.settings.allowed_return_to.resolve(Some(&flow.return_to)) else {
        // The allow-list changed since the flow started: the stored URL is no longer trusted.
        tracing::warn!("stored return_to is no longer allowed");
        return CallbackOutcome::Rejected(ConnectError::InvalidState);
    };
    let result = complete(app, &flow, query).await;
    match &result {
        Ok(()) => {
            tracing::info!(tenant = %flow.owner.tenant, user = %flow.owner.user, "google account connected")
        }
        Err(reason) => {
            tracing::warn!(tenant = %flow.owner.tenant, user = %flow.owner.user, reason = reason.code(), "connect failed")
        }
    }
    CallbackOutcome::Redirect { location: outcome_url(&return_to, result), result }
}

fn outcome_url(return_to: &ReturnTo, result: Result<(), FailureReason>) -> Url {
    match result {
        Ok(()) => return_to.with_outcome(&[("status", "connected")]),
        Err(reason) => return_to.with_outcome(&[("status", "error"), ("reason", reason.code())]),
    }
}

/// Verifies the state (signature, expiry), consumes its record (once) and checks the browser
/// binding. The record is consumed before the cookie check on purpose: a state seen in the
/// wrong browser is burned, so a forwarded consent link cannot be retried.
async fn trusted_flow(
    app: &App,
    state: Option<&str>,
    binding_cookie: Option<&str>,
) -> Result<FlowRecord, ConnectError> {
    let state = state.ok_or(ConnectError::InvalidState)?;
    let secrets = app.secrets.get().await?;
    let now = app.clock.now();
    oauth_state::verify(secrets.state_signing_key.expose_secret(), state, now).map_err(|why| {
        tracing::debug!(why = %why, "state refused");
        ConnectError::InvalidState
    })?;
    let flow = app
        .flows
        .take_flow(FlowKind::OAuthState, &sha256_hex(state))
        .await?
        .filter(|flow| flow.expires_at > now)
        .ok_or(ConnectError::InvalidState)?;
    let expected = flow.browser_binding_hash.as_deref().ok_or(ConnectError::InvalidState)?;
    let presented = binding_cookie.map(sha256_hex).unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ConnectError::BrowserMismatch);
    }
    Ok(flow)
}

async fn complete(app: &App, flow: &FlowRecord, query: CallbackQuery) -> Result<(), FailureReason> {
    let google = &app.settings.google;
    if let Some(iss) = query.iss.as_deref()
        && iss != google.issuer
    {
        return Err(FailureReason::InvalidIssuer);
    }
    if let Some(error) = query.error.as_deref() {
        return Err(match error {
            "access_denied" => FailureReason::AccessDenied,
            _ => FailureReason::AuthorizationFailed,
        });
    }
    let code = query.code.filter(|c| !c.is_empty()).ok_or(FailureReason::InvalidRequest)?;
    let sealed_verifier = flow.sealed_pkce_verifier.as_ref().ok_or(FailureReason::ServerError)?;
    let verifier = app
        .vault
        .open(&EncryptionContext::new(&flow.owner, SealPurpose::OAuthState), sealed_verifier)
        .await
        .map_err(|e| server_error("opening the PKCE verifier", &e))?;
    let verifier = PkceCodeVerifier::new(
        String::from_utf8(verifier.expose_secret().clone()).map_err(|_| FailureReason::ServerError)?,
    );

    let grant = app.google.exchange_code(AuthorizationCode::new(code), verifier).await.map_err(|e| {
        log_google_error("code exchange", &e);
        FailureReason::ExchangeFailed
    })?;

    let existing =
        app.connections.get_connection(&flow.owner).await.map_err(|e| server_error("reading the connection", &e))?;
    let required = google.required_scopes();
    let granted = grant.granted_scopes.clone().unwrap_or_else(|| required.clone());
    if !required.missing_from(&granted).is_empty() {
        // Revoke what was just granted, unless an existing connection shares the grant.
        if existing.is_none() {
            revoke_quietly(app, &grant).await;
        }
        return Err(FailureReason::InsufficientScope);
    }
    let account = app.google.identify(&grant).await.map_err(|e| {
        log_google_error("identifying the account", &e);
        FailureReason::IdentityFailed
    })?;
    store_connection(app, &flow.owner, grant, granted, account).await
}

/// Seals and stores the new grant. A re-consent that returns no refresh token keeps the stored
/// one (same Google account only); a changed account replaces the old grant and revokes it.
async fn store_connection(
    app: &App,
    owner: &ConnectionKey,
    grant: TokenGrant,
    granted: ScopeSet,
    account: GoogleAccount,
) -> Result<(), FailureReason> {
    let now = app.clock.now();
    for _ in 0..WRITE_ATTEMPTS {
        let existing =
            app.connections.get_connection(owner).await.map_err(|e| server_error("reading the connection", &e))?;
        let same_account = existing.as_ref().is_some_and(|r| r.google_account_id == account.subject);
        let previous_tokens = match &existing {
            Some(record) => match tokens::open(&app.vault, owner, &record.sealed_tokens).await {
                Ok(tokens) => Some(tokens),
                Err(e) => {
                    tracing::warn!(error = %crate::http::ErrorChain(&e), "stored tokens do not open; replacing them");
                    None
                }
            },
            None => None,
        };
        let refresh_token = match (&grant.refresh_token, &previous_tokens) {
            (Some(fresh), _) => fresh.clone(),
            (None, Some(previous)) if same_account => previous.refresh_token.clone(),
            (None, _) => return Err(FailureReason::NoRefreshToken),
        };
        let stored = StoredTokens {
            access_token: grant.access_token.clone(),
            refresh_token,
            access_token_expires_at: grant.expires_at,
        };
        let sealed = tokens::seal(&app.vault, owner, &stored).await.map_err(|e| server_error("sealing tokens", &e))?;
        let record = ConnectionRecord {
            key: owner.clone(),
            version: existing.as_ref().map_or(1, |r| r.version + 1),
            status: ConnectionStatus::Connected,
            google_account_id: account.subject.clone(),
            email: account.email.clone(),
            scopes: granted.to_vec(),
            connected_at: existing.as_ref().filter(|_| same_account).map_or(now, |r| r.connected_at),
            updated_at: now,
            last_error: None,
            access_token_expires_at: grant.expires_at,
            selected_calendar_id: existing
                .as_ref()
                .filter(|_| same_account)
                .and_then(|r| r.selected_calendar_id.clone()),
            refresh_lease_until: None,
            sealed_tokens: sealed,
        };
        let condition = existing.as_ref().map_or(WriteCondition::Absent, |r| WriteCondition::Version(r.version));
        match app.connections.put_connection(&record, condition).await {
            Ok(()) => {
                if let (false, Some(previous)) = (same_account, previous_tokens) {
                    // The user switched Google accounts: the old grant is no longer reachable.
                    if let Err(e) = app.google.revoke(&previous.refresh_token).await {
                        log_google_error("revoking the replaced account's grant", &e);
                    }
                }
                return Ok(());
            }
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(server_error("storing the connection", &e)),
        }
    }
    tracing::error!("connection kept changing while storing it");
    Err(FailureReason::ServerError)
}

async fn revoke_quietly(app: &App, grant: &TokenGrant) {
    if let Some(refresh_token) = &grant.refresh_token
        && let Err(e) = app.google.revoke(refresh_token).await
    {
        log_google_error("revoking an unusable grant", &e);
    }
}

fn server_error(what: &str, error: &(dyn std::error::Error + 'static)) -> FailureReason {
    tracing::error!(error = %crate::http::ErrorChain(error), "{what} failed");
    FailureReason::ServerError
}

fn log_google_error(what: &str, error: &GoogleOAuthError) {
    tracing::warn!(error = %crate::http::ErrorChain(error), "google: {what} failed");
}

// ---------------------------------------------------------------------------------------------
// status and disconnect

/// What the app may know about a connection; never a token.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ConnectionView {
    pub provider: &'static str,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

pub async fn status(app: &App, owner: &ConnectionKey) -> Result<ConnectionView, ConnectError> {
    let record = app.connections.get_connection(owner).await?;
    Ok(match record {
        None => ConnectionView {
            provider: owner.provider.as_str(),
            status: "not_connected",
            email: None,
            google_account_id: None,
            scopes: None,
            connected_at: None,
            updated_at: None,
            last_error: None,
        },
        Some(record) => ConnectionView {
            provider: owner.provider.as_str(),
            status: record.status.as_str(),
            email: record.email,
            google_account_id: Some(record.google_account_id),
            scopes: Some(record.scopes),
            connected_at: Some(record.connected_at),
            updated_at: Some(record.updated_at),
            last_error: record.last_error,
        },
    })
}

/// Revokes at Google, then deletes. The delete happens even when revocation fails: the user's
/// intent to disconnect wins, and the failure is logged for follow-up.
#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user))]
pub async fn disconnect(app: &App, owner: &ConnectionKey) -> Result<(), ConnectError> {
    let Some(record) = app.connections.get_connection(owner).await? else {
        return Ok(());
    };
    match tokens::open(&app.vault, owner, &record.sealed_tokens).await {
        Ok(stored) => match app.google.revoke(&stored.refresh_token).await {
            Ok(()) => tracing::info!("grant revoked at google"),
            // Already revoked or expired at Google: nothing left to revoke.
            Err(GoogleOAuthError::InvalidGrant) => {
                tracing::info!("grant was already invalid at google")
            }
            Err(e) => log_google_error("revocation (deleting anyway)", &e),
        },
        Err(e) => {
            tracing::error!(error = %crate::http::ErrorChain(&e), "stored tokens do not open; deleting without revocation")
        }
    }
    app.connections.delete_connection(owner).await?;
    tracing::info!("connection deleted");
    Ok(())
}
