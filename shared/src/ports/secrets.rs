//! The application's secrets (each provider's OAuth client secret, Zoom's webhook secret
//! token, the OAuth state-signing key, the booking-link signing keys), their source, and the cache that loads them once per container on first use.
//!
//! In Lambda the source is Secrets Manager; loading lazily (not in `main`) keeps a network call
//! out of cold start for functions and requests that never need a secret (status, the
//! disconnect of a user who is not connected). A failed load is not cached: the next request
//! tries again.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{SecretBox, SecretString};
use tokio::sync::OnceCell;

use crate::crypto::booking_token::BookingSigningKeys;
use crate::domain::Provider;

/// The secrets calbridge's OAuth clients need.
pub struct AppSecrets {
    /// The OAuth client secret of every provider the source holds one for.
    pub client_secrets: BTreeMap<Provider, SecretString>,
    /// The secret token each provider with signed webhooks ([`has_webhook_secret`]) signs them with.
    pub webhook_secret_tokens: BTreeMap<Provider, SecretString>,
    pub state_signing_key: SecretBox<Vec<u8>>,
    /// The keys booking links are signed (first) and verified (all) with: the configured ones,
    /// or one derived from the state-signing key when none are configured.
    pub booking_signing_keys: BookingSigningKeys,
}

impl AppSecrets {
    /// `provider`'s client secret; a missing one is [`SecretsError::Malformed`], named by field.
    pub fn client_secret(&self, provider: Provider) -> Result<&SecretString, SecretsError> {
        self.client_secrets.get(&provider).ok_or_else(|| {
            SecretsError::Malformed(format!("{} is missing or not a non-empty string", client_secret_field(provider)))
        })
    }
}

impl AppSecrets {
    /// `provider`'s webhook secret token; a missing one is [`SecretsError::Malformed`], named by field.
    pub fn webhook_secret_token(&self, provider: Provider) -> Result<&SecretString, SecretsError> {
        self.webhook_secret_tokens.get(&provider).ok_or_else(|| {
            SecretsError::Malformed(format!("{} is missing or not a non-empty string", webhook_secret_field(provider)))
        })
    }
}

/// Whether `provider` signs webhooks with a secret token of the app's (Zoom does).
pub fn has_webhook_secret(provider: Provider) -> bool {
    provider == Provider::Zoom
}

/// The field of a provider's webhook secret token in the stored secret (`zoom_webhook_secret_token`).
pub fn webhook_secret_field(provider: Provider) -> String {
    format!("{}_webhook_secret_token", provider.as_str())
}

/// The field of a provider's client secret in the stored secret (`google_client_secret`).
pub fn client_secret_field(provider: Provider) -> String {
    format!("{}_client_secret", provider.as_str())
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

/// The secrets of one container, loaded on first use.
pub struct Secrets {
    source: Arc<dyn SecretSource>,
    loaded: OnceCell<AppSecrets>,
}

impl Secrets {
    pub fn new(source: Arc<dyn SecretSource>) -> Self {
        Self { source, loaded: OnceCell::new() }
    }

    pub async fn get(&self) -> Result<&AppSecrets, SecretsError> {
        self.loaded.get_or_try_init(|| self.source.load()).await
    }
}
