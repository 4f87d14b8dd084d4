//! Connecting a user's account at a provider: authorize -> launch -> callback ([`callback`]),
//! status and disconnect ([`status`]), and the service's listing of its tenant's connections
//! ([`listing`]). The flow is the same for every provider; what differs
//! (endpoints, scopes, how the account is identified) is the provider's
//! [`OAuthClient`](crate::ports::OAuthClient) and settings ([`crate::app::OAuthProvider`]).
//!
//! The flow has three single-use, expiring steps, each stored under the hash of its bearer value:
//! 1. `authorize` (app, JWT): mints a launch *ticket* for the caller and an allow-listed
//!    return URL (and the app's optional label for the account). The app opens the launch URL
//!    in the user's browser.
//! 2. `confirm_launch` (browser, GET): spends the ticket and shows a page naming the app
//!    account being connected, with a random browser-binding secret set as a `__Host-` cookie
//!    and a *form token* in the page. A launch link forwarded to someone else shows them
//!    whose account they would connect their calendar to (see `infra/DEPLOY.md`, "Connect
//!    links"). `launch` (the page's POST): spends the form token, only with the same
//!    browser's cookie, mints a signed *state* and a PKCE pair, stores the state record with
//!    the sealed verifier and the binding's hash, and sends the browser to the provider's
//!    consent page.
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
pub mod listing;
mod status;

pub use callback::{CallbackOutcome, CallbackQuery, FailureReason, callback};
pub use grants::Revocation;
pub use status::{ConnectionView, Disconnected, disconnect, status};

use jiff::{SignedDuration, Timestamp};
use oauth2::PkceCodeChallenge;
use secrecy::ExposeSecret;
use serde::Serialize;
use subtle::ConstantTimeEq;
use url::Url;

use crate::app::App;
use crate::crypto::oauth_state::{self, sha256_hex};
use crate::crypto::tokens::TokensError;
use crate::domain::{ConnectionKey, Provider, ReturnToError, UnknownProvider};
use crate::ports::{EncryptionContext, FlowKind, FlowRecord, SealPurpose, StoreError};

/// How long a launch ticket is valid: the app opens it right away.
pub const TICKET_TTL: SignedDuration = SignedDuration::from_secs(5 * 60);
/// How long the launch page's "Continue" button works.
pub const CONFIRMATION_TTL: SignedDuration = SignedDuration::from_secs(10 * 60);
/// How long the user has on the provider's consent screen.
pub const STATE_TTL: SignedDuration = SignedDuration::from_secs(15 * 60);
/// The cookie that binds a consent to the browser that started it.
pub const BINDING_COOKIE: &str = "__Host-calbridge-oauth";
const MAX_LOGIN_HINT_LEN: usize = 320;
const MAX_ACCOUNT_LABEL_CHARS: usize = 200;

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

/// What the app may say about the flow it starts (each optional).
#[derive(Debug, Default, Clone, Copy)]
pub struct AuthorizeRequest<'a> {
    /// One of the allowed return URLs; default the first.
    pub return_to: Option<&'a str>,
    /// Preselects the account on the provider's chooser.
    pub login_hint: Option<&'a str>,
    /// How the app names the user (their email in the app, say), shown on the launch page.
    pub account_label: Option<&'a str>,
}

#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user, provider = %owner.provider))]
pub async fn authorize(
    app: &App,
    owner: &ConnectionKey,
    request: AuthorizeRequest<'_>,
) -> Result<LaunchTicket, ConnectError> {
    let provider = app.oauth(owner.provider)?;
    let return_to = app.settings.allowed_return_to.resolve(request.return_to)?;
    let login_hint = request.login_hint.map(parse_login_hint).transpose()?;
    let account_label = request.account_label.map(parse_account_label).transpose()?;
    let ticket = crate::crypto::random::token();
    let expires_at = app.clock.now() + TICKET_TTL;
    app.flows
        .put_flow(&FlowRecord {
            kind: FlowKind::LaunchTicket,
            id_hash: sha256_hex(&ticket),
            owner: owner.clone(),
            return_to: return_to.as_str().to_owned(),
            login_hint,
            account_label,
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

fn parse_account_label(raw: &str) -> Result<String, ConnectError> {
    let label = raw.trim();
    if label.is_empty() || label.chars().count() > MAX_ACCOUNT_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(ConnectError::InvalidRequest("account_label must be 1 to 200 characters of text"));
    }
    Ok(label.to_owned())
}

// ---------------------------------------------------------------------------------------------
// 2. launch: confirm, then continue

/// What the launch page shows before anything goes to the provider.
pub struct LaunchConfirmation {
    /// The app account being connected.
    pub owner: ConnectionKey,
    pub account_label: Option<String>,
    pub provider_name: &'static str,
    /// The origin of the provider's consent page (the page's form may lead only there).
    pub consent_origin: String,
    /// Goes into the page's form; spent by [`launch`].
    pub form_token: String,
    /// The browser-binding secret to set as [`BINDING_COOKIE`] now: the form is accepted only
    /// from this browser, and the callback checks it again.
    pub binding_cookie: String,
    pub cookie_max_age: SignedDuration,
}

/// Spends a ticket that `authorize` minted for `provider` (a ticket of another provider's flow
/// is burned and refused) and stores the confirmation the page's form will spend.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn confirm_launch(app: &App, provider: Provider, ticket: &str) -> Result<LaunchConfirmation, ConnectError> {
    let oauth = app.oauth(provider)?;
    let now = app.clock.now();
    let record = app
        .flows
        .take_flow(FlowKind::LaunchTicket, &sha256_hex(ticket))
        .await?
        .filter(|record| record.expires_at > now && record.owner.provider == provider)
        .ok_or(ConnectError::InvalidTicket)?;
    let form_token = crate::crypto::random::token();
    let binding_cookie = crate::crypto::random::token();
    app.flows
        .put_flow(&FlowRecord {
            kind: FlowKind::LaunchConfirmation,
            id_hash: sha256_hex(&form_token),
            browser_binding_hash: Some(sha256_hex(&binding_cookie)),
            expires_at: now + CONFIRMATION_TTL,
            ..record.clone()
        })
        .await?;
    tracing::info!(tenant = %record.owner.tenant, user = %record.owner.user, "launch confirmation shown");
    Ok(LaunchConfirmation {
        owner: record.owner,
        account_label: record.account_label,
        provider_name: oauth.display_name,
        consent_origin: oauth.consent_origin.clone(),
        form_token,
        binding_cookie,
        cookie_max_age: CONFIRMATION_TTL + STATE_TTL,
    })
}

pub struct LaunchRedirect {
    /// The provider's consent page for this flow.
    pub location: Url,
    /// The browser-binding secret to set (again) as [`BINDING_COOKIE`].
    pub binding_cookie: String,
    pub cookie_max_age: SignedDuration,
}

/// Spends the confirmation behind `form_token`, in the browser it was shown to only (a form
/// posted from another browser burns it), then mints a signed *state*, a PKCE pair and stores
/// the state record bound to the same browser.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn launch(
    app: &App,
    provider: Provider,
    form_token: &str,
    binding_cookie: Option<&str>,
) -> Result<LaunchRedirect, ConnectError> {
    let oauth = app.oauth(provider)?;
    let now = app.clock.now();
    let record = app
        .flows
        .take_flow(FlowKind::LaunchConfirmation, &sha256_hex(form_token))
        .await?
        .filter(|record| record.expires_at > now && record.owner.provider == provider)
        .ok_or(ConnectError::InvalidTicket)?;
    let expected = record.browser_binding_hash.as_deref().ok_or(ConnectError::InvalidTicket)?;
    let binding_cookie = binding_cookie.unwrap_or_default();
    if !bool::from(sha256_hex(binding_cookie).as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ConnectError::BrowserMismatch);
    }
    let secrets = app.secrets.get().await?;

    let state = oauth_state::mint(secrets.state_signing_key.expose_secret(), now + STATE_TTL);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let sealed_verifier = app
        .vault
        .seal(&EncryptionContext::new(&record.owner, SealPurpose::OAuthState), verifier.secret().as_bytes())
        .await
        .map_err(TokensError::from)?;
    app.flows
        .put_flow(&FlowRecord {
            kind: FlowKind::OAuthState,
            id_hash: sha256_hex(&state),
            sealed_pkce_verifier: Some(sealed_verifier),
            expires_at: now + STATE_TTL,
            ..record.clone()
        })
        .await?;
    let location = oauth.client.authorization_url(&state, challenge, record.login_hint.as_deref());
    tracing::info!(tenant = %record.owner.tenant, user = %record.owner.user, "consent started");
    Ok(LaunchRedirect { location, binding_cookie: binding_cookie.to_owned(), cookie_max_age: STATE_TTL })
}
