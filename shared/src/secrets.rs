//! The application's secrets, loaded once per container on first use.
//!
//! In Lambda the source is Secrets Manager; loading lazily (not in `main`) keeps a network call
//! out of cold start for functions and requests that never need a secret (status, the
//! disconnect of a user who is not connected). A failed load is not cached: the next request
//! tries again.

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use tokio::sync::OnceCell;

use crate::ports::{AppSecrets, SecretSource, SecretsError};

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

/// Secrets given in configuration (local stack, tests).
pub struct InlineSecrets {
    google_client_secret: SecretString,
    state_signing_key: SecretBox<Vec<u8>>,
}

impl InlineSecrets {
    pub fn new(google_client_secret: SecretString, state_signing_key: SecretBox<Vec<u8>>) -> Self {
        Self { google_client_secret, state_signing_key }
    }
}

#[async_trait]
impl SecretSource for InlineSecrets {
    async fn load(&self) -> Result<AppSecrets, SecretsError> {
        Ok(AppSecrets {
            google_client_secret: self.google_client_secret.clone(),
            state_signing_key: SecretBox::new(Box::new(self.state_signing_key.expose_secret().clone())),
        })
    }
}
