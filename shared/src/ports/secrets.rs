//! The application's secrets (each provider's OAuth client secret, Zoom's webhook secret
//! token, the OAuth state-signing key, the booking-link signing keys), their source, and the
//! cache that loads them on first use and again after a TTL.
//!
//! In Lambda the source is Secrets Manager; loading lazily (not in `main`) keeps a network call
//! out of cold start for functions and requests that never need a secret (status, the
//! disconnect of a user who is not connected). A failed first load is not cached: the next
//! request tries again. After the TTL (`SECRETS_CACHE_TTL_SECONDS`, default 300) the next
//! request loads them again, so a rotated client secret takes effect within the TTL without a
//! cold start; if that refresh fails the previous secrets keep serving (a warning is logged)
//! and the refresh is tried again after [`REFRESH_RETRY`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{SecretBox, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

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

/// How long after a failed refresh the previous secrets serve before the next attempt.
pub const REFRESH_RETRY: Duration = Duration::from_secs(30);

/// The secrets of one container, loaded on first use and again once `ttl` has passed.
pub struct Secrets {
    source: Arc<dyn SecretSource>,
    ttl: Option<Duration>,
    /// Held across a load, so concurrent requests wait for one load instead of each making one.
    cached: Mutex<Option<Loaded>>,
}

struct Loaded {
    secrets: Arc<AppSecrets>,
    refresh_at: Option<Instant>,
}

impl Secrets {
    /// Secrets that never change while the process runs (inline ones, tests).
    pub fn new(source: Arc<dyn SecretSource>) -> Self {
        Self { source, ttl: None, cached: Mutex::new(None) }
    }

    /// Secrets loaded again on the first use after `ttl` (a stored, rotatable secret).
    pub fn with_ttl(source: Arc<dyn SecretSource>, ttl: Duration) -> Self {
        Self { source, ttl: Some(ttl), cached: Mutex::new(None) }
    }

    pub async fn get(&self) -> Result<Arc<AppSecrets>, SecretsError> {
        let mut cached = self.cached.lock().await;
        let now = Instant::now();
        if let Some(loaded) = cached.as_ref()
            && loaded.refresh_at.is_none_or(|at| now < at)
        {
            return Ok(loaded.secrets.clone());
        }
        match self.source.load().await {
            Ok(secrets) => {
                let secrets = Arc::new(secrets);
                let refresh_at = self.ttl.map(|ttl| now + ttl);
                *cached = Some(Loaded { secrets: secrets.clone(), refresh_at });
                Ok(secrets)
            }
            Err(e) => match cached.as_mut() {
                Some(stale) => {
                    tracing::warn!(error = %crate::errors::ErrorChain(&e), "refreshing the secrets failed; the previous ones keep serving");
                    stale.refresh_at = Some(now + REFRESH_RETRY);
                    Ok(stale.secrets.clone())
                }
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use secrecy::ExposeSecret;

    use super::*;

    /// A source whose client secret is `generation-<n>` on its n-th load, or that fails.
    struct Rotating {
        loads: AtomicU32,
        failing: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl SecretSource for Rotating {
        async fn load(&self) -> Result<AppSecrets, SecretsError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(SecretsError::Unavailable("secrets manager is down".into()));
            }
            let n = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
            let secret = SecretString::from(format!("generation-{n}"));
            let state_signing_key = SecretBox::new(Box::new(vec![7u8; 32]));
            Ok(AppSecrets {
                client_secrets: BTreeMap::from([(Provider::Google, secret)]),
                webhook_secret_tokens: BTreeMap::new(),
                booking_signing_keys: BookingSigningKeys::derived_from_state_key(state_signing_key.expose_secret()),
                state_signing_key,
            })
        }
    }

    fn google(secrets: &AppSecrets) -> String {
        secrets.client_secret(Provider::Google).unwrap().expose_secret().to_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn a_rotated_secret_is_picked_up_after_the_ttl_and_a_failed_refresh_keeps_the_old_one() {
        let source = Arc::new(Rotating { loads: AtomicU32::new(0), failing: false.into() });
        let secrets = Secrets::with_ttl(source.clone(), Duration::from_secs(300));
        // loaded once on first use, then served from the cache within the TTL
        assert_eq!(google(&secrets.get().await.unwrap()), "generation-1");
        tokio::time::advance(Duration::from_secs(299)).await;
        assert_eq!(google(&secrets.get().await.unwrap()), "generation-1");
        assert_eq!(source.loads.load(Ordering::SeqCst), 1);
        // after the TTL the rotated secret is loaded
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(google(&secrets.get().await.unwrap()), "generation-2");
        // a refresh that fails keeps the previous secret and waits REFRESH_RETRY before trying again
        tokio::time::advance(Duration::from_secs(301)).await;
        source.failing.store(true, Ordering::SeqCst);
        assert_eq!(google(&secrets.get().await.unwrap()), "generation-2");
        source.failing.store(false, Ordering::SeqCst);
        assert_eq!(google(&secrets.get().await.unwrap()), "generation-2", "no new attempt within REFRESH_RETRY");
        tokio::time::advance(REFRESH_RETRY).await;
        assert_eq!(google(&secrets.get().await.unwrap()), "generation-3");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_first_load_is_an_error_and_not_cached() {
        let source = Arc::new(Rotating { loads: AtomicU32::new(0), failing: true.into() });
        let secrets = Secrets::with_ttl(source.clone(), Duration::from_secs(300));
        assert!(matches!(secrets.get().await, Err(SecretsError::Unavailable(_))));
        source.failing.store(false, Ordering::SeqCst);
        assert_eq!(google(&secrets.get().await.unwrap()), "generation-1");
    }

    #[tokio::test(start_paused = true)]
    async fn inline_secrets_are_loaded_once_for_the_life_of_the_process() {
        let source = Arc::new(Rotating { loads: AtomicU32::new(0), failing: false.into() });
        let secrets = Secrets::new(source.clone());
        secrets.get().await.unwrap();
        tokio::time::advance(Duration::from_secs(86_400)).await;
        assert_eq!(google(&secrets.get().await.unwrap()), "generation-1");
        assert_eq!(source.loads.load(Ordering::SeqCst), 1);
    }
}
