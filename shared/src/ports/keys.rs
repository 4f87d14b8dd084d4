//! Envelope-encryption keys: KMS in production, a local master key offline.
//!
//! Contract: a data key is bound to an [`EncryptionContext`] (tenant, user, provider, purpose);
//! unwrapping it under any other context fails with [`KeyError::Rejected`], never with a key.

use async_trait::async_trait;
use secrecy::SecretBox;

use crate::domain::ConnectionKey;

/// The context a data key is bound to. It is the KMS encryption context and, serialised
/// canonically, the AES-GCM associated data: a sealed blob opens only under the exact
/// (tenant, user, provider, purpose) it was sealed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionContext {
    pairs: Vec<(&'static str, String)>,
}

/// What a sealed value is for; part of the encryption context so a blob sealed for one
/// purpose can never be opened as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealPurpose {
    /// The OAuth tokens of a connection.
    Tokens,
    /// The PKCE verifier of an in-flight consent.
    OAuthState,
}

impl SealPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            SealPurpose::Tokens => "oauth_tokens",
            SealPurpose::OAuthState => "oauth_state",
        }
    }
}

impl EncryptionContext {
    pub fn new(key: &ConnectionKey, purpose: SealPurpose) -> Self {
        // Sorted by key name: KMS treats the context as a map, and the AAD must be canonical.
        Self {
            pairs: vec![
                ("provider", key.provider.as_str().to_owned()),
                ("purpose", purpose.as_str().to_owned()),
                ("tenant_id", key.tenant.as_str().to_owned()),
                ("user_id", key.user.as_str().to_owned()),
            ],
        }
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.pairs.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// Canonical bytes for AES-GCM associated data: a JSON object with sorted keys.
    pub fn aad(&self) -> Vec<u8> {
        let map: serde_json::Map<String, serde_json::Value> =
            self.pairs.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone()))).collect();
        serde_json::to_vec(&map).expect("a map of strings always serialises")
    }
}

/// A fresh data key: the plaintext to seal with (never stored) and its encrypted form (stored).
pub struct DataKey {
    pub plaintext: SecretBox<[u8; 32]>,
    pub encrypted: Vec<u8>,
    /// The key that wrapped it (a KMS key ARN, or `local:<fingerprint>`).
    pub key_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The encrypted key does not open under this context or key: tampering or a blob moved
    /// between rows. Never retried.
    #[error("data key rejected: wrong encryption context, key or ciphertext")]
    Rejected,
    #[error("key service unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Envelope-encryption keys.
#[async_trait]
pub trait KeyProvider: Send + Sync {
    /// A fresh 256-bit data key bound to `context`.
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyError>;

    /// Unwraps a data key produced by `generate_data_key` with the same `context`.
    async fn decrypt_data_key(
        &self,
        encrypted: &[u8],
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<SecretBox<[u8; 32]>, KeyError>;
}

/// An envelope-encrypted secret as stored: nothing in it is usable without the key service
/// and the exact encryption context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub ciphertext: Vec<u8>,
    pub nonce: [u8; 12],
    pub encrypted_data_key: Vec<u8>,
    pub key_id: String,
}
