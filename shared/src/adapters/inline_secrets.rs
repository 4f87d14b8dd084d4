//! Secrets given in configuration (local stack, tests): the offline [`SecretSource`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::domain::Provider;
use crate::ports::{AppSecrets, SecretSource, SecretsError};

pub struct InlineSecrets {
    client_secrets: BTreeMap<Provider, SecretString>,
    state_signing_key: SecretBox<Vec<u8>>,
}

impl InlineSecrets {
    pub fn new(client_secrets: BTreeMap<Provider, SecretString>, state_signing_key: SecretBox<Vec<u8>>) -> Self {
        Self { client_secrets, state_signing_key }
    }
}

#[async_trait]
impl SecretSource for InlineSecrets {
    async fn load(&self) -> Result<AppSecrets, SecretsError> {
        Ok(AppSecrets {
            client_secrets: self.client_secrets.clone(),
            state_signing_key: SecretBox::new(Box::new(self.state_signing_key.expose_secret().clone())),
        })
    }
}
