//! Step 3 of the consent flow: the provider sends the browser back with a code (or an error).
//!
//! Contract: a state that is forged, expired, already used, of another provider's flow or
//! arriving in another browser is refused without redirecting anywhere
//! ([`CallbackOutcome::Rejected`]). Past that the return URL is trusted, and every outcome
//! redirects there with `status=connected` or `status=error&reason=<code>`.
//! Once a Google connection is stored, the appointment changes kept while the user could not
//! be written to are applied (bounded; see [`crate::usecases::sync::pending`]) before the redirect.

use oauth2::{AuthorizationCode, PkceCodeVerifier};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use url::Url;

use super::ConnectError;
use super::grants::revoke_unless_shared;
use crate::app::{App, OAuthProvider};
use crate::crypto::oauth_state::{self, sha256_hex};
use crate::crypto::tokens::{self, StoredTokens};
use crate::domain::{ConnectionKey, Provider, ReturnTo, ScopeSet};
use crate::errors::ErrorChain;
use crate::ports::{
    ConnectionRecord, ConnectionStatus, EncryptionContext, FlowKind, FlowRecord, LostWrite, OAuthError,
    ProviderAccount, SealPurpose, StoreError, TokenGrant, WriteCondition, retry_lost_writes,
};

/// The query the provider redirects back with.
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

#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn callback(
    app: &App,
    provider: Provider,
    query: CallbackQuery,
    binding_cookie: Option<&str>,
) -> CallbackOutcome {
    let oauth = match app.oauth(provider) {
        Ok(oauth) => oauth,
        Err(unknown) => return CallbackOutcome::Rejected(unknown.into()),
    };
    let flow = match trusted_flow(app, provider, query.state.as_deref(), binding_cookie).await {
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
    let result = complete(app, oauth, &flow, query).await;
    match &result {
        Ok(()) => {
            tracing::info!(tenant = %flow.owner.tenant, user = %flow.owner.user, "{provider} account connected");
            if provider == Provider::Google {
                // Appointment changes that arrived while the user could not be written to.
                crate::usecases::sync::apply_kept(app, &flow.owner).await;
            }
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

/// Verifies the state (signature, expiry), consumes its record (once) and checks the provider
/// and the browser binding. The record is consumed before those checks on purpose: a state
/// seen on the wrong route or in the wrong browser is burned, so a forwarded consent link
/// cannot be retried.
async fn trusted_flow(
    app: &App,
    provider: Provider,
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
        .filter(|flow| flow.expires_at > now && flow.owner.provider == provider)
        .ok_or(ConnectError::InvalidState)?;
    let expected = flow.browser_binding_hash.as_deref().ok_or(ConnectError::InvalidState)?;
    let presented = binding_cookie.map(sha256_hex).unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ConnectError::BrowserMismatch);
    }
    Ok(flow)
}

async fn complete(
    app: &App,
    oauth: &OAuthProvider,
    flow: &FlowRecord,
    query: CallbackQuery,
) -> Result<(), FailureReason> {
    // RFC 9207: a provider that names itself in the redirect must name itself correctly.
    if let (Some(iss), Some(expected)) = (query.iss.as_deref(), oauth.issuer.as_deref())
        && iss != expected
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

    let grant = oauth.client.exchange_code(AuthorizationCode::new(code), verifier).await.map_err(|e| {
        log_provider_error("code exchange", &e);
        FailureReason::ExchangeFailed
    })?;

    let required = &oauth.required_scopes;
    // Google always reports what was granted; a response that does not say is taken as
    // granting nothing, never as granting everything asked for.
    let granted = grant.granted_scopes.clone().unwrap_or_default();
    if !required.missing_from(&granted).is_empty() {
        revoke_refused_grant(app, oauth, flow.owner.provider, &grant).await;
        return Err(FailureReason::InsufficientScope);
    }
    let account = oauth.client.identify(&grant).await.map_err(|e| {
        log_provider_error("identifying the account", &e);
        FailureReason::IdentityFailed
    })?;
    store_connection(app, oauth, &flow.owner, grant, granted, account).await
}

/// Why one attempt at storing the connection did not succeed.
enum StoreAttempt {
    /// Another write landed first: read again and retry.
    Lost,
    Failed(FailureReason),
}

impl LostWrite for StoreAttempt {
    fn is_lost_write(&self) -> bool {
        matches!(self, StoreAttempt::Lost)
    }
}

/// Seals and stores the new grant. A re-consent that returns no refresh token keeps the stored
/// one (same account only); a changed account replaces the old grant and revokes it.
async fn store_connection(
    app: &App,
    oauth: &OAuthProvider,
    owner: &ConnectionKey,
    grant: TokenGrant,
    granted: ScopeSet,
    account: ProviderAccount,
) -> Result<(), FailureReason> {
    let now = app.clock.now();
    let stored = retry_lost_writes(|| async {
        let failed = |what: &str, e: &(dyn std::error::Error + 'static)| StoreAttempt::Failed(server_error(what, e));
        let existing = app.connections.get_connection(owner).await.map_err(|e| failed("reading the connection", &e))?;
        let same_account = existing.as_ref().is_some_and(|r| r.account_id == account.id);
        let previous_tokens = match &existing {
            Some(record) => match tokens::open(&app.vault, owner, &record.sealed_tokens).await {
                Ok(tokens) => Some(tokens),
                Err(e) => {
                    tracing::warn!(error = %ErrorChain(&e), "stored tokens do not open; replacing them");
                    None
                }
            },
            None => None,
        };
        let refresh_token = match (&grant.refresh_token, &previous_tokens) {
            (Some(fresh), _) => fresh.clone(),
            (None, Some(previous)) if same_account => previous.refresh_token.clone(),
            (None, _) => return Err(StoreAttempt::Failed(FailureReason::NoRefreshToken)),
        };
        let stored = StoredTokens {
            access_token: grant.access_token.clone(),
            refresh_token,
            access_token_expires_at: grant.expires_at,
        };
        let sealed = tokens::seal(&app.vault, owner, &stored).await.map_err(|e| failed("sealing tokens", &e))?;
        let kept = existing.as_ref().filter(|_| same_account);
        let record = ConnectionRecord {
            key: owner.clone(),
            version: existing.as_ref().map_or(1, |r| r.version + 1),
            status: ConnectionStatus::Connected,
            account_id: account.id.clone(),
            organisation_id: account.organisation_id.clone(),
            email: account.email.clone(),
            scopes: granted.to_vec(),
            connected_at: kept.map_or(now, |r| r.connected_at),
            updated_at: now,
            last_error: None,
            last_used_at: kept.and_then(|r| r.last_used_at),
            access_token_expires_at: grant.expires_at,
            selected_calendar_id: kept.and_then(|r| r.selected_calendar_id.clone()),
            refresh_lease_until: None,
            sealed_tokens: sealed,
        };
        let condition = existing.as_ref().map_or(WriteCondition::Absent, |r| WriteCondition::Version(r.version));
        match app.connections.put_connection(&record, condition).await {
            Ok(()) => Ok(previous_tokens
                .filter(|_| !same_account)
                .and_then(|tokens| existing.as_ref().map(|r| (r.account_id.clone(), tokens)))),
            Err(StoreError::ConditionFailed) => Err(StoreAttempt::Lost),
            Err(e) => Err(failed("storing the connection", &e)),
        }
    })
    .await;
    match stored {
        Ok(replaced) => {
            if let Some((previous_account, previous)) = replaced {
                // The user switched accounts: the old grant is no longer reachable from this
                // connection (another may still use it).
                revoke_unless_shared(
                    app,
                    oauth,
                    owner.provider,
                    &previous_account,
                    Some(owner),
                    &previous.refresh_token,
                    "account switch",
                )
                .await;
            }
            Ok(())
        }
        Err(StoreAttempt::Failed(reason)) => Err(reason),
        Err(StoreAttempt::Lost) => {
            tracing::error!("connection kept changing while storing it");
            Err(FailureReason::ServerError)
        }
    }
}

/// Revokes a fresh grant the connect refused, unless a stored connection (the caller's own
/// included) uses the same account: revoking would end that connection's grant too. The
/// account is asked for first; when it cannot be told, nothing is revoked.
async fn revoke_refused_grant(app: &App, oauth: &OAuthProvider, provider: Provider, grant: &TokenGrant) {
    let Some(refresh_token) = &grant.refresh_token else { return };
    match oauth.client.identify(grant).await {
        Ok(account) => {
            revoke_unless_shared(app, oauth, provider, &account.id, None, refresh_token, "refused grant").await;
        }
        Err(e) => log_provider_error("identifying a refused grant (not revoking it)", &e),
    }
}

fn server_error(what: &str, error: &(dyn std::error::Error + 'static)) -> FailureReason {
    tracing::error!(error = %ErrorChain(error), "{what} failed");
    FailureReason::ServerError
}

pub(super) fn log_provider_error(what: &str, error: &OAuthError) {
    tracing::warn!(error = %ErrorChain(error), "provider: {what} failed");
}
