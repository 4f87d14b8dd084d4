//! Zoom's OAuth 2.0 endpoints for user-managed apps, implementing the [`OAuthClient`] port.
//!
//! Contract:
//! - The consent URL carries `response_type=code`, the client id, the exact redirect URI, the
//!   signed state and a PKCE S256 challenge. It names no scopes: Zoom grants the scopes
//!   configured on the app, and the grant's `scope` field is checked against
//!   [`ZoomConfig::scopes`] by the connect flow.
//! - Code exchange, refresh and revoke authenticate with HTTP Basic,
//!   `base64(client_id:client_secret)`, as Zoom documents it. These three requests are made
//!   directly rather than through the `oauth2` crate: its Basic scheme form-encodes id and
//!   secret first (RFC 6749 §2.3.1, which Zoom does not do), and its error type drops Zoom's
//!   `reason`, which tells a dead token from a malformed request.
//! - Every refresh answers a new refresh token, and the presented one dies at once: the
//!   grant's `refresh_token` is always `Some`, and the caller must store it before using the
//!   access token ([`crate::usecases::access_tokens`]).
//! - A dead code or refresh token is [`OAuthError::InvalidGrant`]: `invalid_grant`, and also
//!   `invalid_request` with reason "Invalid Token!", which Zoom has been seen to send for a
//!   stale refresh token. 5xx, 429, network failures and unparseable bodies are
//!   [`OAuthError::Unavailable`]; other OAuth errors are [`OAuthError::Rejected`] by code.
//! - The account is `GET {api}/users/me`: the Zoom user id, email and `account_id` (the Zoom
//!   organisation account, kept to check a deauthorization webhook against).
//!
//! The HTTP client never follows redirects and has a timeout. Error values and logs never carry
//! response bodies: they may contain tokens.

use std::sync::Arc;

use async_trait::async_trait;
use oauth2::{AccessToken, AuthorizationCode, PkceCodeChallenge, PkceCodeVerifier, RefreshToken};
use secrecy::ExposeSecret;
use serde::Deserialize;
use url::Url;

use crate::config::ZoomConfig;
use crate::domain::{Provider, ScopeSet};
use crate::ports::{Clock, OAuthClient, OAuthError, ProviderAccount, Secrets, TokenGrant};

/// Zoom's reason for a token it does not (or no longer) know.
const INVALID_TOKEN_REASON: &str = "Invalid Token!";

pub struct ZoomOAuthClient {
    config: ZoomConfig,
    http: reqwest::Client,
    secrets: Arc<Secrets>,
    clock: Arc<dyn Clock>,
}

/// A token response, as Zoom sends it (`api_url` and other fields are ignored).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    scope: Option<String>,
}

/// Zoom's OAuth error body, `{"reason": "...", "error": "..."}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
    reason: Option<String>,
}

/// The part of `GET /users/me` calbridge keeps.
#[derive(Deserialize)]
struct Me {
    id: String,
    email: Option<String>,
    account_id: Option<String>,
}

fn unavailable(why: impl Into<String>) -> OAuthError {
    OAuthError::Unavailable(why.into().into())
}

/// Classifies a non-success answer of the token or revocation endpoint from its status and
/// Zoom's error body (read for `error` and `reason` only).
pub(crate) fn classify_error(status: reqwest::StatusCode, body: &[u8]) -> OAuthError {
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return unavailable(format!("zoom answered {status}"));
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (error, reason) = parsed.map(|b| (b.error, b.reason)).unwrap_or_default();
    match error.as_deref() {
        Some("invalid_grant") => OAuthError::InvalidGrant,
        Some("invalid_request") if reason.as_deref().is_some_and(|r| r.trim() == INVALID_TOKEN_REASON) => {
            OAuthError::InvalidGrant
        }
        Some("temporarily_unavailable" | "server_error") => unavailable(format!("zoom answered {status}")),
        Some(code) => OAuthError::Rejected { code: code.to_owned() },
        None => OAuthError::Rejected { code: format!("http_{}", status.as_u16()) },
    }
}

impl ZoomOAuthClient {
    pub fn new(config: ZoomConfig, http: reqwest::Client, secrets: Arc<Secrets>, clock: Arc<dyn Clock>) -> Self {
        Self { config, http, secrets, clock }
    }

    /// POSTs a form to one of Zoom's OAuth endpoints with Basic client authentication; the
    /// raw response (status and body) for the caller to classify.
    async fn post_authenticated(
        &self,
        url: &Url,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, Vec<u8>), OAuthError> {
        let secrets = self.secrets.get().await.map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let secret = secrets.client_secret(Provider::Zoom).map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let response = self
            .http
            .post(url.clone())
            .basic_auth(&self.config.client_id, Some(secret.expose_secret()))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        Ok((status, body.to_vec()))
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenGrant, OAuthError> {
        let (status, body) = self.post_authenticated(&self.config.token_url, form).await?;
        if !status.is_success() {
            return Err(classify_error(status, &body));
        }
        // serde's error could quote the body: only its position is kept.
        let response: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            unavailable(format!("unparseable token response at line {} column {}", e.line(), e.column()))
        })?;
        let now = self.clock.now();
        Ok(TokenGrant {
            access_token: AccessToken::new(response.access_token),
            refresh_token: response.refresh_token.filter(|t| !t.is_empty()).map(RefreshToken::new),
            expires_at: response
                .expires_in
                .and_then(|secs| i64::try_from(secs).ok())
                .and_then(|secs| now.checked_add(jiff::SignedDuration::from_secs(secs)).ok()),
            granted_scopes: response.scope.map(|scope| ScopeSet::of(scope.split([' ', ',']).filter(|s| !s.is_empty()))),
            id_token: None,
        })
    }

    /// `{api}/users/me`.
    fn me_url(&self) -> Url {
        let mut url = self.config.api_url.clone();
        let path = format!("{}/users/me", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }
}

#[async_trait]
impl OAuthClient for ZoomOAuthClient {
    /// Zoom has no login hint: the hint is not sent.
    fn authorization_url(&self, state: &str, pkce_challenge: PkceCodeChallenge, _login_hint: Option<&str>) -> Url {
        let mut url = self.config.auth_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", self.config.redirect_uri.as_str())
            .append_pair("state", state)
            .append_pair("code_challenge", pkce_challenge.as_str())
            .append_pair("code_challenge_method", pkce_challenge.method().as_str());
        url
    }

    #[tracing::instrument(skip_all, name = "zoom.exchange_code")]
    async fn exchange_code(
        &self,
        code: AuthorizationCode,
        pkce_verifier: PkceCodeVerifier,
    ) -> Result<TokenGrant, OAuthError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code.secret().as_str()),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("code_verifier", pkce_verifier.secret().as_str()),
        ])
        .await
    }

    #[tracing::instrument(skip_all, name = "zoom.refresh")]
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenGrant, OAuthError> {
        let grant = self
            .token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token.secret().as_str())])
            .await?;
        if grant.refresh_token.is_none() {
            // The presented token is dead now; without its successor the grant cannot be
            // refreshed again. Say so rather than keep the dead one.
            return Err(unavailable("zoom refreshed without a new refresh token"));
        }
        Ok(grant)
    }

    /// Revokes the whole grant behind the refresh token. A token Zoom no longer knows is
    /// [`OAuthError::InvalidGrant`]: nothing was left to revoke.
    #[tracing::instrument(skip_all, name = "zoom.revoke")]
    async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), OAuthError> {
        let (status, body) =
            self.post_authenticated(&self.config.revoke_url, &[("token", refresh_token.secret().as_str())]).await?;
        if status.is_success() {
            return Ok(());
        }
        Err(classify_error(status, &body))
    }

    #[tracing::instrument(skip_all, name = "zoom.identify")]
    async fn identify(&self, grant: &TokenGrant) -> Result<ProviderAccount, OAuthError> {
        let response = self
            .http
            .get(self.me_url())
            .bearer_auth(grant.access_token.secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(unavailable(format!("users/me answered {status}")));
        }
        if !status.is_success() {
            // 401 (token refused) or 400 4711 (the grant lacks user:read): not a usable identity.
            return Err(OAuthError::InvalidIdentity(format!("users/me answered {status}")));
        }
        let me: Me = response.json().await.map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        if me.id.trim().is_empty() {
            return Err(OAuthError::InvalidIdentity("users/me has no id".to_owned()));
        }
        Ok(ProviderAccount {
            id: me.id,
            email: me.email.filter(|e| !e.is_empty()),
            organisation_id: me.account_id.filter(|a| !a.trim().is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn dead_tokens_are_invalid_grant_in_both_of_zooms_spellings() {
        let body = br#"{"reason":"Invalid Token!","error":"invalid_grant"}"#;
        assert!(matches!(classify_error(StatusCode::BAD_REQUEST, body), OAuthError::InvalidGrant));
        let body = br#"{"reason":"Invalid Token!","error":"invalid_request"}"#;
        assert!(matches!(classify_error(StatusCode::BAD_REQUEST, body), OAuthError::InvalidGrant));
        let body = br#"{"reason":"Redirect URI mismatch.","error":"invalid_request"}"#;
        assert!(matches!(
            classify_error(StatusCode::BAD_REQUEST, body),
            OAuthError::Rejected { code } if code == "invalid_request"
        ));
        let body = br#"{"reason":"Invalid client_id or client_secret","error":"invalid_client"}"#;
        assert!(matches!(
            classify_error(StatusCode::UNAUTHORIZED, body),
            OAuthError::Rejected { code } if code == "invalid_client"
        ));
        assert!(matches!(classify_error(StatusCode::BAD_GATEWAY, b"<html>"), OAuthError::Unavailable(_)));
        assert!(matches!(classify_error(StatusCode::TOO_MANY_REQUESTS, b""), OAuthError::Unavailable(_)));
        assert!(matches!(
            classify_error(StatusCode::FORBIDDEN, b"not json"),
            OAuthError::Rejected { code } if code == "http_403"
        ));
    }
}
