//! A connection's OAuth tokens: the one secret payload calbridge stores, and how it is sealed.
//!
//! The payload is JSON inside the AES-GCM envelope of [`crate::crypto::vault`], bound to
//! (tenant, user, provider, `oauth_tokens`). Outside this module tokens exist only as `oauth2`
//! secret types, whose `Debug` is redacted.

use jiff::Timestamp;
use oauth2::{AccessToken, RefreshToken};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::crypto::vault::{Vault, VaultError};
use crate::domain::ConnectionKey;
use crate::ports::{EncryptionContext, SealPurpose, SealedSecret};

#[derive(Debug)]
pub struct StoredTokens {
    pub access_token: AccessToken,
    pub refresh_token: RefreshToken,
    pub access_token_expires_at: Option<Timestamp>,
}

#[derive(Serialize, Deserialize)]
struct Payload<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    access_token_expires_at: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("sealed token payload is malformed")]
    Malformed,
}

pub async fn seal(vault: &Vault, key: &ConnectionKey, tokens: &StoredTokens) -> Result<SealedSecret, TokensError> {
    let payload = Payload {
        access_token: tokens.access_token.secret(),
        refresh_token: tokens.refresh_token.secret(),
        access_token_expires_at: tokens.access_token_expires_at,
    };
    let bytes = zeroizing_json(&payload);
    Ok(vault.seal(&EncryptionContext::new(key, SealPurpose::Tokens), bytes.expose_secret()).await?)
}

pub async fn open(vault: &Vault, key: &ConnectionKey, sealed: &SealedSecret) -> Result<StoredTokens, TokensError> {
    let plaintext = vault.open(&EncryptionContext::new(key, SealPurpose::Tokens), sealed).await?;
    let payload: Payload = serde_json::from_slice(plaintext.expose_secret()).map_err(|_| TokensError::Malformed)?;
    Ok(StoredTokens {
        access_token: AccessToken::new(payload.access_token.to_owned()),
        refresh_token: RefreshToken::new(payload.refresh_token.to_owned()),
        access_token_expires_at: payload.access_token_expires_at,
    })
}

/// Serialises into a buffer that is wiped when dropped: it holds plaintext tokens.
fn zeroizing_json(payload: &Payload<'_>) -> secrecy::SecretBox<Vec<u8>> {
    secrecy::SecretBox::new(Box::new(serde_json::to_vec(payload).expect("token payload always serialises")))
}
