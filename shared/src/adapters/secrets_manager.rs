//! The production [`SecretSource`]: one AWS Secrets Manager secret.
//!
//! The secret's `SecretString` is a JSON object with one `<provider>_client_secret` per
//! configured provider (and `zoom_webhook_secret_token` with Zoom) and the state-signing key:
//! `{"google_client_secret": "...", "state_signing_key": "<base64 of at least 32 bytes>"}`,
//! and optionally the booking-link signing keys, `"booking_signing_keys": "k2:<base64>,k1:<base64>"`
//! (the first signs, all verify; without the field one key is derived from the state-signing
//! key, see [`crate::crypto::booking_token`]). Other fields are ignored, so the secret can carry notes or rotation metadata.
//!
//! Contract: a secret that cannot be read (missing, access denied, network) is
//! [`SecretsError::Unavailable`] with the SDK error as source; one that is read but does not
//! have that shape is [`SecretsError::Malformed`], whose message names the field and never
//! contains any part of the secret (not even through a JSON parser's error text). Nothing here
//! has a `Debug` or `Display` that could show a secret value, and the raw secret string is
//! zeroized once parsed.

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use base64::Engine as _;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde_json::Value;

use crate::crypto::booking_token::BookingSigningKeys;
use crate::domain::Provider;
use crate::ports::{
    AppSecrets, SecretSource, SecretsError, client_secret_field, has_webhook_secret, webhook_secret_field,
};

/// The shortest state-signing key accepted, in bytes (HMAC-SHA-256 wants a full block of entropy).
pub const MIN_STATE_SIGNING_KEY_BYTES: usize = 32;

pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    /// The secret's name or ARN.
    secret_id: String,
    /// The providers whose client secret the secret must hold.
    providers: Vec<Provider>,
}

impl SecretsManagerSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>, providers: &[Provider]) -> Self {
        Self { client, secret_id: secret_id.into(), providers: providers.to_vec() }
    }
}

impl std::fmt::Debug for SecretsManagerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManagerSource").field("secret_id", &self.secret_id).finish_non_exhaustive()
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    #[tracing::instrument(skip_all, fields(secret_id = %self.secret_id))]
    async fn load(&self) -> Result<AppSecrets, SecretsError> {
        let output = self.client.get_secret_value().secret_id(&self.secret_id).send().await.map_err(|err| {
            tracing::warn!(code = err.code(), error = %DisplayErrorContext(&err), "GetSecretValue failed");
            SecretsError::Unavailable(Box::new(err))
        })?;
        let Some(mut raw) = output.secret_string else {
            return Err(SecretsError::Malformed(
                "SecretString is absent (a binary secret is not supported)".to_owned(),
            ));
        };
        let parsed = parse_app_secrets(&raw, &self.providers);
        raw.zeroize();
        parsed
    }
}

/// Parses the secret's JSON. Errors are built from field names only: serde's own messages can
/// quote the offending value.
fn parse_app_secrets(raw: &str, providers: &[Provider]) -> Result<AppSecrets, SecretsError> {
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(raw) else {
        return Err(SecretsError::Malformed("SecretString is not a JSON object".to_owned()));
    };
    let mut take = |field: String| match fields.remove(&field) {
        Some(Value::String(secret)) if !secret.is_empty() => Ok(SecretString::from(secret)),
        _ => Err(SecretsError::Malformed(format!("{field} is missing or not a non-empty string"))),
    };
    let mut client_secrets = std::collections::BTreeMap::new();
    let mut webhook_secret_tokens = std::collections::BTreeMap::new();
    for &provider in providers {
        client_secrets.insert(provider, take(client_secret_field(provider))?);
        if has_webhook_secret(provider) {
            webhook_secret_tokens.insert(provider, take(webhook_secret_field(provider))?);
        }
    }
    let signing_key_problem = || {
        SecretsError::Malformed(format!(
            "state_signing_key must be at least {MIN_STATE_SIGNING_KEY_BYTES} bytes, base64-encoded"
        ))
    };
    let Some(Value::String(mut encoded)) = fields.remove("state_signing_key") else {
        return Err(signing_key_problem());
    };
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim());
    encoded.zeroize();
    let state_signing_key = match decoded {
        Ok(bytes) if bytes.len() >= MIN_STATE_SIGNING_KEY_BYTES => SecretBox::new(Box::new(bytes)),
        Ok(mut short) => {
            short.zeroize();
            return Err(signing_key_problem());
        }
        Err(_) => return Err(signing_key_problem()),
    };
    let booking_signing_keys = match fields.remove("booking_signing_keys") {
        None => BookingSigningKeys::derived_from_state_key(state_signing_key.expose_secret()),
        Some(Value::String(mut raw)) => {
            let parsed = BookingSigningKeys::parse(&raw);
            raw.zeroize();
            // The error names an entry's position only.
            parsed.map_err(|e| SecretsError::Malformed(e.to_string()))?
        }
        Some(_) => {
            return Err(SecretsError::Malformed(
                "booking_signing_keys must be a string `id:base64,id:base64`".to_owned(),
            ));
        }
    };
    Ok(AppSecrets { client_secrets, webhook_secret_tokens, state_signing_key, booking_signing_keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn zoom_needs_its_client_secret_and_webhook_secret_token_named_by_field() {
        let providers = [Provider::Google, Provider::Zoom];
        let secrets = parse_app_secrets(
            &format!(
                r#"{{"google_client_secret":"g","zoom_client_secret":"z","zoom_webhook_secret_token":"w","state_signing_key":"{KEY}"}}"#
            ),
            &providers,
        )
        .unwrap();
        assert_eq!(secrets.client_secret(Provider::Zoom).unwrap().expose_secret(), "z");
        assert_eq!(secrets.webhook_secret_token(Provider::Zoom).unwrap().expose_secret(), "w");

        let Err(SecretsError::Malformed(why)) = parse_app_secrets(
            &format!(r#"{{"google_client_secret":"g","zoom_client_secret":"z","state_signing_key":"{KEY}"}}"#),
            &providers,
        ) else {
            panic!("a secret without the webhook token must be refused");
        };
        assert_eq!(why, "zoom_webhook_secret_token is missing or not a non-empty string");

        // A Google-only deployment needs neither Zoom field.
        let google = parse_app_secrets(
            &format!(r#"{{"google_client_secret":"g","state_signing_key":"{KEY}"}}"#),
            &[Provider::Google],
        )
        .unwrap();
        assert!(google.webhook_secret_tokens.is_empty());
    }
}
