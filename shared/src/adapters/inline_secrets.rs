//! Secrets given in configuration (local stack, tests): the offline [`SecretSource`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::crypto::booking_token::BookingSigningKeys;
use crate::domain::Provider;
use crate::ports::{AppSecrets, SecretSource, SecretsError};

pub struct InlineSecrets {
    client_secrets: BTreeMap<Provider, SecretString>,
    webhook_secret_tokens: BTreeMap<Provider, SecretString>,
    state_signing_key: SecretBox<Vec<u8>>,
    booking_signing_keys: BookingSigningKeys,
}

impl InlineSecrets {
    /// `booking_signing_keys` are `BOOKING_SIGNING_KEYS`; without them, one key is derived from
    /// the state-signing key (as the Secrets Manager source does).
    pub fn new(
        client_secrets: BTreeMap<Provider, SecretString>,
        webhook_secret_tokens: BTreeMap<Provider, SecretString>,
        state_signing_key: SecretBox<Vec<u8>>,
        booking_signing_keys: Option<BookingSigningKeys>,
    ) -> Self {
        let booking_signing_keys = booking_signing_keys
            .unwrap_or_else(|| BookingSigningKeys::derived_from_state_key(state_signing_key.expose_secret()));
        Self { client_secrets, webhook_secret_tokens, state_signing_key, booking_signing_keys }
    }
}

#[async_trait]
impl SecretSource for InlineSecrets {
    async fn load(&self) -> Result<AppSecrets, SecretsError> {
        Ok(AppSecrets {
            client_secrets: self.client_secrets.clone(),
            webhook_secret_tokens: self.webhook_secret_tokens.clone(),
            state_signing_key: SecretBox::new(Box::new(self.state_signing_key.expose_secret().clone())),
            booking_signing_keys: self.booking_signing_keys.clone(),
        })
    }
}
