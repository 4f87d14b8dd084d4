//! Envelope encryption of everything secret that calbridge stores.
//!
//! `seal` asks the [`KeyProvider`] for a fresh 256-bit data key per write (KMS
//! `GenerateDataKey` in production), encrypts with AES-256-GCM under a random 96-bit nonce and
//! the canonical encryption context as associated data, and keeps only the ciphertext, nonce,
//! encrypted data key and key id. `open` unwraps the data key with the *same* context (KMS
//! refuses any other) and decrypts (AES-GCM refuses any other AAD): a sealed blob copied into
//! another tenant's or user's row does not open, twice over.
//!
//! Cache policy: a warm container keeps unwrapped data keys so repeated reads of the same
//! connection make no KMS call. At most [`CACHE_CAPACITY`] keys, each for at most
//! [`CACHE_TTL`] after it was unwrapped or generated, keyed by (encrypted data key, context)
//! so a cached key is only ever used for the exact context KMS approved. Only successful
//! unwraps are cached; failures always go back to the key service. Keys live in memory only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use secrecy::{ExposeSecret, SecretBox};
use sha2::{Digest, Sha256};

use crate::ports::{EncryptionContext, KeyError, KeyProvider, SealedSecret};

pub const CACHE_CAPACITY: usize = 512;
pub const CACHE_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("sealed value does not open under this context (tampered or moved)")]
    Rejected,
    #[error(transparent)]
    Key(#[from] KeyError),
}

pub struct Vault {
    keys: Arc<dyn KeyProvider>,
    cache: Mutex<HashMap<[u8; 32], CachedKey>>,
}

struct CachedKey {
    key: Arc<SecretBox<[u8; 32]>>,
    stored_at: Instant,
}

impl Vault {
    pub fn new(keys: Arc<dyn KeyProvider>) -> Self {
        Self { keys, cache: Mutex::new(HashMap::new()) }
    }

    /// Encrypts `plaintext` under a fresh data key bound to `context`.
    pub async fn seal(&self, context: &EncryptionContext, plaintext: &[u8]) -> Result<SealedSecret, VaultError> {
        let data_key = self.keys.generate_data_key(context).await?;
        let nonce = crate::crypto::random::bytes::<12>();
        let cipher = Aes256Gcm::new(data_key.plaintext.expose_secret().into());
        let aad = context.aad();
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
            .map_err(|_| VaultError::Rejected)?;
        self.remember(cache_id(&data_key.encrypted, &aad), Arc::new(data_key.plaintext));
        Ok(SealedSecret { ciphertext, nonce, encrypted_data_key: data_key.encrypted, key_id: data_key.key_id })
    }

    /// Decrypts a value sealed for exactly `context`.
    pub async fn open(
        &self,
        context: &EncryptionContext,
        sealed: &SealedSecret,
    ) -> Result<SecretBox<Vec<u8>>, VaultError> {
        let aad = context.aad();
        let id = cache_id(&sealed.encrypted_data_key, &aad);
        let key = match self.cached(&id) {
            Some(key) => key,
            None => {
                let key =
                    Arc::new(self.keys.decrypt_data_key(&sealed.encrypted_data_key, &sealed.key_id, context).await?);
                self.remember(id, key.clone());
                key
            }
        };
        let cipher = Aes256Gcm::new(key.expose_secret().into());
        let plaintext = cipher
            .decrypt(Nonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad: &aad })
            .map_err(|_| VaultError::Rejected)?;
        Ok(SecretBox::new(Box::new(plaintext)))
    }

    fn cached(&self, id: &[u8; 32]) -> Option<Arc<SecretBox<[u8; 32]>>> {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get(id).filter(|entry| entry.stored_at.elapsed() < CACHE_TTL).map(|entry| entry.key.clone())
    }

    fn remember(&self, id: [u8; 32], key: Arc<SecretBox<[u8; 32]>>) {
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, entry| entry.stored_at.elapsed() < CACHE_TTL);
        }
        if cache.len() >= CACHE_CAPACITY
            && let Some(oldest) = cache.iter().min_by_key(|(_, e)| e.stored_at).map(|(id, _)| *id)
        {
            cache.remove(&oldest);
        }
        cache.insert(id, CachedKey { key, stored_at: Instant::now() });
    }

    #[cfg(test)]
    fn cached_len(&self) -> usize {
        self.cache.lock().unwrap().len()
    }
}

fn cache_id(encrypted_data_key: &[u8], aad: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((encrypted_data_key.len() as u64).to_be_bytes());
    hasher.update(encrypted_data_key);
    hasher.update(aad);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::local_key::LocalKeyProvider;
    use crate::domain::{ConnectionKey, TenantId, UserId};
    use crate::ports::SealPurpose;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn context(tenant: &str, user: &str) -> EncryptionContext {
        let key = ConnectionKey::new(
            TenantId::parse(tenant).unwrap(),
            UserId::parse(user).unwrap(),
            crate::domain::Provider::Google,
        );
        EncryptionContext::new(&key, SealPurpose::Tokens)
    }

    /// Counts unwraps so the cache policy is observable.
    struct Counting {
        inner: LocalKeyProvider,
        decrypts: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl KeyProvider for Counting {
        async fn generate_data_key(&self, c: &EncryptionContext) -> Result<crate::ports::DataKey, KeyError> {
            self.inner.generate_data_key(c).await
        }
        async fn decrypt_data_key(
            &self,
            e: &[u8],
            k: &str,
            c: &EncryptionContext,
        ) -> Result<SecretBox<[u8; 32]>, KeyError> {
            self.decrypts.fetch_add(1, Ordering::SeqCst);
            self.inner.decrypt_data_key(e, k, c).await
        }
    }

    fn counting() -> Arc<Counting> {
        Arc::new(Counting { inner: LocalKeyProvider::new([7u8; 32]), decrypts: AtomicUsize::new(0) })
    }

    #[tokio::test]
    async fn round_trips_and_never_stores_plaintext() {
        let vault = Vault::new(counting());
        let sealed = vault.seal(&context("t1", "u1"), b"refresh-token-value").await.unwrap();
        assert!(!sealed.ciphertext.windows(5).any(|w| w == b"token"));
        let opened = vault.open(&context("t1", "u1"), &sealed).await.unwrap();
        assert_eq!(opened.expose_secret().as_slice(), b"refresh-token-value");
    }

    #[tokio::test]
    async fn a_blob_moved_to_another_user_or_tenant_does_not_open() {
        let keys = counting();
        let vault = Vault::new(keys.clone());
        let sealed = vault.seal(&context("t1", "u1"), b"secret").await.unwrap();
        // A fresh vault (another container) has nothing cached: the key service refuses.
        let cold = Vault::new(keys);
        for (tenant, user) in [("t1", "u2"), ("t2", "u1")] {
            assert!(matches!(
                cold.open(&context(tenant, user), &sealed).await,
                Err(VaultError::Key(KeyError::Rejected))
            ));
            // And the warm vault, which holds the data key, still refuses through the AAD check.
            assert!(vault.open(&context(tenant, user), &sealed).await.is_err());
        }
    }

    #[tokio::test]
    async fn tampered_ciphertext_is_rejected() {
        let vault = Vault::new(counting());
        let mut sealed = vault.seal(&context("t1", "u1"), b"secret").await.unwrap();
        sealed.ciphertext[0] ^= 1;
        assert!(matches!(vault.open(&context("t1", "u1"), &sealed).await, Err(VaultError::Rejected)));
    }

    #[tokio::test]
    async fn warm_reads_make_no_key_service_call() {
        let keys = counting();
        let writer = Vault::new(keys.clone());
        let sealed = writer.seal(&context("t1", "u1"), b"secret").await.unwrap();
        // The writing container primed its cache when it generated the key.
        writer.open(&context("t1", "u1"), &sealed).await.unwrap();
        assert_eq!(keys.decrypts.load(Ordering::SeqCst), 0);
        // A reading container unwraps once, then serves from cache.
        let reader = Vault::new(keys.clone());
        for _ in 0..10 {
            reader.open(&context("t1", "u1"), &sealed).await.unwrap();
        }
        assert_eq!(keys.decrypts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn cache_is_bounded() {
        let vault = Vault::new(counting());
        for i in 0..(CACHE_CAPACITY + 20) {
            vault.seal(&context("t1", &format!("u{i}")), b"x").await.unwrap();
        }
        assert_eq!(vault.cached_len(), CACHE_CAPACITY);
    }
}
