//! Connecting a user's account at a provider: authorize -> launch -> callback ([`callback`]),
//! status and disconnect ([`status`]). The flow is the same for every provider; what differs
//! (endpoints, scopes, how the account is identified) is the provider's
//! [`OAuthClient`](crate::ports::OAuthClient) and settings ([`crate::app::OAuthProvider`]).
//!
//! The flow has two single-use, expiring steps, each stored under the hash of its bearer value:
//! 1. `authorize` (app, JWT): mints a launch *ticket* for the caller and an allow-listed
//!    return URL. The app opens the launch URL in the user's browser.
//! 2. `launch` (browser): spends the ticket, mints a signed *state*, a PKCE pair and a random
//!    browser-binding secret. The state record keeps the sealed verifier and the binding's
//!    hash; the secret goes to the browser as a `__Host-` cookie; the browser goes to the
//!    provider's consent page.
//! 3. `callback` (browser, from the provider): refuses a state that is forged, expired, already used
//!    or arriving in another browser, without redirecting anywhere. Past that the return URL
//!    is trusted, so every other failure redirects there with `status=error&reason=<code>`.
//!    Success exchanges the code (with the verifier), checks the granted scopes, identifies
//!    the account, seals the tokens and stores the connection.
//!
//! A grant is revoked at the provider (disconnect, account switch, refused scopes) only when
//! no other stored connection shares it ([`grants`]).
//!
//! Every step is bound to one provider: the ticket and state records carry the connection key
//! (tenant, user, provider), and a step arriving on another provider's route is refused.
//! Nothing is stored for a failed callback, and no value of a token, code, verifier, state,
//! ticket or cookie is ever logged.

mod callback;
mod grants;
mod status;

pub use callback::{CallbackOutcome, CallbackQuery, FailureReason, callback};
pub use grants::Revocation;
pub use status::{ConnectionView, Disconnected, disconnect, status};

use jiff::{SignedDuration, Timestamp};
use oauth2::PkceCodeChallenge;
use secrecy::ExposeSecret;
use serde::Serialize;
use url::Url;

use crate::app::App;
use crate::crypto::oauth_state::{self, sha256_hex};
use crate::crypto::tokens::TokensError;
use crate::domain::{ConnectionKey, Provider, ReturnToError, UnknownProvider};
use crate::ports::{EncryptionContext, FlowKind, FlowRecord, SealPurpose, StoreError};

/// How long a launch ticket is valid: the app opens it right away.
pub const TICKET_TTL: SignedDuration = SignedDuration::from_secs(5 * 60);
/// How long the user has on the provider's consent screen.
pub const STATE_TTL: SignedDuration = SignedDuration::from_secs(15 * 60);
/// The cookie that binds a consent to the browser that started it.
pub const BINDING_COOKIE: &str = "__Host-calbridge-oauth";
const MAX_LOGIN_HINT_LEN: usize = 320;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The route names a provider this deployment does not offer.
    #[error(transparent)]
    UnknownProvider(#[from] UnknownProvider),
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

#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user, provider = %owner.provider))]
pub async fn authorize(
    app: &App,
    owner: &ConnectionKey,
    return_to: Option<&str>,
    login_hint: Option<&str>,
) -> Result<LaunchTicket, ConnectError> {
    let provider = app.oauth(owner.provider)?;
    let return_to = app.settings.allowed_return_to.resolve(return_to)?;
    let login_hint = login_hint.map(parse_login_hint).transpose()?;
    let ticket = crate::crypto::random::token();
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
    let mut launch_url = provider.launch_url.clone();
    launch_url.query_pairs_mut().append_pair("ticket", &ticket);
    tracing::info!("launch ticket issued");
    Ok(LaunchTicket { launch_url: launch_url.into(), expires_at })
}

fn parse_login_hint(raw: &str) -> Result<String, ConnectError> {
    let hint = raw.trim();
    if hint.is_empty() || hint.len() > MAX_LOGIN_HINT_LEN || hint.chars().any(char::is_control) {
        return Err(ConnectError::InvalidRequest("login_hint must be an email address or account id"));
    }
    Ok(hint.to_owned())
}

// ---------------------------------------------------------------------------------------------
// 2. launch

pub struct LaunchRedirect {
    /// The provider's consent page for this flow.
    pub location: Url,
    /// The browser-binding secret to set as [`BINDING_COOKIE`].
    pub binding_cookie: String,
    pub cookie_max_age: SignedDuration,
}

/// Spends a ticket that `authorize` minted for `provider` (a ticket of another provider's flow
/// is burned and refused).
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn launch(app: &App, provider: Provider, ticket: &str) -> Result<LaunchRedirect, ConnectError> {
    let oauth = app.oauth(provider)?;
    let now = app.clock.now();
    let record = app
        .flows
        .take_flow(FlowKind::LaunchTicket, &sha256_hex(ticket))
        .await?
        .filter(|record| record.expires_at > now && record.owner.provider == provider)
        .ok_or(ConnectError::InvalidTicket)?;
    let secrets = app.secrets.get().await?;

    let state = oauth_state::mint(secrets.state_signing_key.expose_secret(), now + STATE_TTL);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let binding_cookie = crate::crypto::random::token();
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
    let location = oauth.client.authorization_url(&state, challenge, record.login_hint.as_deref());
    tracing::info!(tenant = %record.owner.tenant, user = %record.owner.user, "consent started");
    Ok(LaunchRedirect { location, binding_cookie, cookie_max_age: STATE_TTL })
}
