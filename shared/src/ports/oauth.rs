//! The vendor-neutral OAuth 2.0 port: what connecting any provider needs (consent URL, code
//! exchange with PKCE, refresh, revoke, who the account is), and nothing provider-specific.
//!
//! Contract: an adapter makes one HTTP exchange per call and classifies its failures into
//! [`OAuthError`]; `InvalidGrant` always means "this grant is dead, the user must consent
//! again". Error values never carry response bodies: they may contain tokens.

use async_trait::async_trait;
use jiff::Timestamp;
use oauth2::{AccessToken, AuthorizationCode, PkceCodeChallenge, PkceCodeVerifier, RefreshToken};
use secrecy::SecretString;
use url::Url;

use crate::domain::ScopeSet;

/// What the provider granted in a token response. Tokens are `oauth2` secret types: `Debug` is
/// redacted and reading one takes an explicit `.secret()`.
#[derive(Debug)]
pub struct TokenGrant {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub expires_at: Option<Timestamp>,
    /// The scopes the provider reports as granted (granular consent may drop some); `None`
    /// when the response has no `scope` field. A connect treats that as nothing granted; a
    /// refresh keeps the scopes already stored (RFC 6749 §5.1: omitted means unchanged).
    pub granted_scopes: Option<ScopeSet>,
    pub id_token: Option<SecretString>,
}

/// The provider's account behind a grant (for Google: from a validated id_token or the
/// userinfo endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAccount {
    /// The provider's stable id of the account (Google's `sub`).
    pub id: String,
    pub email: Option<String>,
    /// The provider's id of the organisation the account belongs to: Zoom's `account_id`;
    /// `None` for Google.
    pub organisation_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The code, verifier or refresh token is invalid, used, expired or revoked.
    #[error("the provider rejected the grant (invalid_grant)")]
    InvalidGrant,
    /// Any other OAuth error response, e.g. `invalid_client`.
    #[error("the provider answered with OAuth error {code}")]
    Rejected { code: String },
    /// The identity in the response could not be validated.
    #[error("the account identity could not be validated: {0}")]
    InvalidIdentity(String),
    /// Network failure, timeout, 5xx, 429 or an unparseable body.
    #[error("the provider is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait OAuthClient: Send + Sync {
    /// The consent-page URL for one flow (no I/O).
    fn authorization_url(&self, state: &str, pkce_challenge: PkceCodeChallenge, login_hint: Option<&str>) -> Url;

    /// Exchanges an authorization code, proving possession of the PKCE verifier.
    async fn exchange_code(
        &self,
        code: AuthorizationCode,
        pkce_verifier: PkceCodeVerifier,
    ) -> Result<TokenGrant, OAuthError>;

    /// Uses a refresh token for a new access token.
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenGrant, OAuthError>;

    /// Revokes the grant behind `refresh_token` at the provider.
    async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), OAuthError>;

    /// Identifies the account behind a fresh grant (for Google: validates the id_token,
    /// signature, issuer, audience, expiry, when present, else asks the userinfo endpoint).
    async fn identify(&self, grant: &TokenGrant) -> Result<ProviderAccount, OAuthError>;
}
