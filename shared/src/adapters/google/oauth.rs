//! Google's OAuth 2.0 / OpenID Connect endpoints over HTTPS, through the `oauth2` crate.
//!
//! Every endpoint comes from [`GoogleConfig`], so the same code talks to Google or to any
//! Google-compatible server (the bundled emulator). The HTTP client never follows redirects (a
//! token endpoint that redirects is an attack or a misconfiguration, not something to follow)
//! and has a timeout. PKCE is S256 always; consent asks for offline access with
//! `prompt=consent` so Google issues a refresh token, and `include_granted_scopes` so earlier
//! grants are kept. The id_token is validated against Google's JWKS (signature, issuer,
//! audience, expiry), the key set cached and refetched when an unknown key id appears.
//! Error values never carry response bodies: they may contain tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl,
    Scope, StandardErrorResponse, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use url::Url;

use crate::config::GoogleConfig;
use crate::domain::Provider;
use crate::domain::ScopeSet;
use crate::metrics::GoogleApi;
use crate::ports::{Clock, OAuthClient, OAuthError, ProviderAccount, Secrets, TokenGrant};

/// How long a fetched JWKS is trusted before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(3600);
/// Google's tokens name the issuer with or without the scheme.
const GOOGLE_ISSUER_ALIASES: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GoogleTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for GoogleTokenFields {}

type GoogleTokenResponse = StandardTokenResponse<GoogleTokenFields, BasicTokenType>;
type GoogleClient = oauth2::Client<
    BasicErrorResponse,
    GoogleTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
>;

pub struct GoogleOAuthClient {
    config: GoogleConfig,
    /// Whose client secret authenticates this client: Google's, or Gmail's own client's.
    secret_of: Provider,
    http: reqwest::Client,
    secrets: Arc<Secrets>,
    clock: Arc<dyn Clock>,
    jwks: RwLock<Option<(JwkSet, Instant)>>,
}

impl GoogleOAuthClient {
    pub fn new(config: GoogleConfig, http: reqwest::Client, secrets: Arc<Secrets>, clock: Arc<dyn Clock>) -> Self {
        // id_tokens are verified by jsonwebtoken with ring's RSA (crypto::jwt_ring).
        crate::crypto::jwt_ring::install();
        Self { config, secret_of: Provider::Google, http, secrets, clock, jwks: RwLock::new(None) }
    }

    /// The same adapter authenticated with `provider`'s client secret (a separate mail client).
    pub fn with_secret_of(mut self, provider: Provider) -> Self {
        self.secret_of = provider;
        self
    }

    fn client(&self, secret: Option<&SecretString>) -> GoogleClient {
        let c = &self.config;
        let client = oauth2::Client::new(ClientId::new(c.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(c.auth_url.clone()))
            .set_token_uri(TokenUrl::from_url(c.token_url.clone()))
            .set_revocation_url(RevocationUrl::from_url(c.revoke_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(c.redirect_uri.clone()));
        match secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned())),
            None => client,
        }
    }

    async fn authenticated_client(&self) -> Result<GoogleClient, OAuthError> {
        let secrets = self.secrets.get().await.map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let secret = secrets.client_secret(self.secret_of).map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        Ok(self.client(Some(secret)))
    }

    fn grant(&self, response: GoogleTokenResponse) -> TokenGrant {
        let now = self.clock.now();
        TokenGrant {
            access_token: response.access_token().clone(),
            refresh_token: response.refresh_token().cloned(),
            expires_at: response
                .expires_in()
                .and_then(|d| jiff::SignedDuration::try_from(d).ok())
                .and_then(|d| now.checked_add(d).ok()),
            granted_scopes: response.scopes().map(|scopes| ScopeSet::of(scopes.iter().map(|s| s.as_str()))),
            id_token: response.extra_fields().id_token.clone().map(SecretString::from),
        }
    }

    async fn key_set(&self, refetch: bool) -> Result<JwkSet, OAuthError> {
        if !refetch
            && let Some((set, fetched)) = self.jwks.read().await.as_ref()
            && fetched.elapsed() < JWKS_TTL
        {
            return Ok(set.clone());
        }
        let sent = self.http.get(self.config.jwks_url.clone()).send().await;
        count(GoogleApi::Certs, &sent);
        let response =
            sent.and_then(reqwest::Response::error_for_status).map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let set: JwkSet = response.json().await.map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        *self.jwks.write().await = Some((set.clone(), Instant::now()));
        Ok(set)
    }

    async fn validate_id_token(&self, id_token: &SecretString) -> Result<ProviderAccount, OAuthError> {
        let invalid = |why: &str| OAuthError::InvalidIdentity(why.to_owned());
        let token = id_token.expose_secret();
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed id_token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid("id_token is not signed with RS256"));
        }
        let kid = header.kid.ok_or_else(|| invalid("id_token has no key id"))?;
        let mut set = self.key_set(false).await?;
        if set.find(&kid).is_none() {
            // Google rotates keys: an unknown key id may be newer than our cached set.
            set = self.key_set(true).await?;
        }
        let jwk = set.find(&kid).ok_or_else(|| invalid("id_token signed by an unknown key"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("unusable signing key"))?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[self.config.client_id.as_str()]);
        if GOOGLE_ISSUER_ALIASES.contains(&self.config.issuer.as_str()) {
            validation.set_issuer(&GOOGLE_ISSUER_ALIASES);
        } else {
            validation.set_issuer(&[self.config.issuer.as_str()]);
        }
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<IdTokenClaims>(token, &key, &validation)
            .map_err(|e| OAuthError::InvalidIdentity(format!("id_token rejected: {:?}", e.kind())))?
            .claims;
        Ok(ProviderAccount {
            id: claims.sub,
            email: claims.email.filter(|_| claims.email_verified.unwrap_or(false)),
            organisation_id: None,
        })
    }

    async fn userinfo(&self, access_token: &AccessToken) -> Result<ProviderAccount, OAuthError> {
        let sent = self.http.get(self.config.userinfo_url.clone()).bearer_auth(access_token.secret()).send().await;
        count(GoogleApi::Userinfo, &sent);
        let response = sent.map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(OAuthError::InvalidIdentity(format!("userinfo answered {status}")));
        }
        let response = response.error_for_status().map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let info: UserInfo = response.json().await.map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        Ok(ProviderAccount {
            id: info.sub,
            email: info.email.filter(|_| info.email_verified.unwrap_or(false)),
            organisation_id: None,
        })
    }
}

/// The `oauth2` crate's requests (to the token endpoint) through our client, counted as calls
/// to `api` by the class of their answer. A type rather than a closure: a closure returning a
/// future that borrows the client is not `Send` for every lifetime, which `async_trait` needs.
struct Counted<'a> {
    http: &'a reqwest::Client,
    api: GoogleApi,
}

impl<'c> oauth2::AsyncHttpClient<'c> for Counted<'_> {
    type Error = oauth2::HttpClientError<reqwest::Error>;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + Sync + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let answer = self.http.call(request).await;
            crate::metrics::google_answer(self.api, answer.as_ref().ok().map(|r| r.status().as_u16()));
            answer
        })
    }
}

/// Counts one call to `api` by the class of its answer (`transport` when there was none).
fn count(api: GoogleApi, sent: &Result<reqwest::Response, reqwest::Error>) {
    crate::metrics::google_answer(api, sent.as_ref().ok().map(|r| r.status().as_u16()));
}

#[derive(Deserialize)]
struct IdTokenClaims {
    sub: String,
    email: Option<String>,
    email_verified: Option<bool>,
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    email_verified: Option<bool>,
}

fn token_error<E: std::error::Error + Send + Sync + 'static>(
    error: RequestTokenError<E, StandardErrorResponse<BasicErrorResponseType>>,
) -> OAuthError {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidGrant => OAuthError::InvalidGrant,
            BasicErrorResponseType::Extension(code)
                if code == "temporarily_unavailable" || code == "server_error" || code == "internal_failure" =>
            {
                OAuthError::Unavailable(format!("google answered {code}").into())
            }
            other => OAuthError::Rejected { code: other.to_string() },
        },
        RequestTokenError::Request(e) => OAuthError::Unavailable(Box::new(e)),
        // The body of an unparseable response is dropped here on purpose: it may hold tokens.
        RequestTokenError::Parse(e, _body) => {
            OAuthError::Unavailable(format!("unparseable token response at {}", e.path()).into())
        }
        RequestTokenError::Other(why) => OAuthError::Unavailable(why.into()),
    }
}

#[async_trait]
impl OAuthClient for GoogleOAuthClient {
    fn authorization_url(&self, state: &str, pkce_challenge: PkceCodeChallenge, login_hint: Option<&str>) -> Url {
        let state = state.to_owned();
        let client = self.client(None);
        let mut request = client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(pkce_challenge)
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
            .add_extra_param("include_granted_scopes", "true");
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        request.url().0
    }

    #[tracing::instrument(skip_all, name = "google.exchange_code")]
    async fn exchange_code(
        &self,
        code: AuthorizationCode,
        pkce_verifier: PkceCodeVerifier,
    ) -> Result<TokenGrant, OAuthError> {
        let response = self
            .authenticated_client()
            .await?
            .exchange_code(code)
            .set_pkce_verifier(pkce_verifier)
            .request_async(&Counted { http: &self.http, api: GoogleApi::TokenExchange })
            .await
            .map_err(token_error)?;
        Ok(self.grant(response))
    }

    #[tracing::instrument(skip_all, name = "google.refresh")]
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenGrant, OAuthError> {
        let response = self
            .authenticated_client()
            .await?
            .exchange_refresh_token(refresh_token)
            .request_async(&Counted { http: &self.http, api: GoogleApi::TokenRefresh })
            .await
            .map_err(token_error)?;
        Ok(self.grant(response))
    }

    /// Google's revocation endpoint takes the token as a form parameter and no client
    /// authentication. (The `oauth2` crate's revocation helper insists on an https URL, which
    /// would make the endpoint unconfigurable for an emulator, so this one request is made
    /// directly.)
    #[tracing::instrument(skip_all, name = "google.revoke")]
    async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), OAuthError> {
        let sent = self
            .http
            .post(self.config.revoke_url.clone())
            .form(&[("token", refresh_token.secret().as_str()), ("token_type_hint", "refresh_token")])
            .send()
            .await;
        count(GoogleApi::Revoke, &sent);
        let response = sent.map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(OAuthError::Unavailable(format!("revocation answered {status}").into()));
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            error: String,
        }
        let code = response.json::<ErrorBody>().await.map(|b| b.error).unwrap_or_else(|_| status.to_string());
        match code.as_str() {
            // Already revoked or expired: the grant is dead, which is what was asked.
            "invalid_token" | "invalid_grant" => Err(OAuthError::InvalidGrant),
            _ => Err(OAuthError::Rejected { code }),
        }
    }

    #[tracing::instrument(skip_all, name = "google.identify")]
    async fn identify(&self, grant: &TokenGrant) -> Result<ProviderAccount, OAuthError> {
        match &grant.id_token {
            Some(id_token) => self.validate_id_token(id_token).await,
            None => self.userinfo(&grant.access_token).await,
        }
    }
}
