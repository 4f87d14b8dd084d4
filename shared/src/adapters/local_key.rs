//! The local stand-in for KMS: data keys wrapped by one 256-bit master key held in memory.
//!
//! Same contract as [`super::kms::KmsKeyProvider`]: every data key is bound to its encryption
//! context (used as AES-GCM associated data when wrapping), so a wrapped key does not unwrap
//! under another tenant's or user's context. The master key comes from configuration
//! (`LOCAL_MASTER_KEY`) or, for the local stack, from `<data dir>/master.key`, generated on
//! first run with owner-only permissions. Not for production: the key is as safe as that file.

use std::io;
use std::path::Path;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use async_trait::async_trait;
use base64::Engine as _;
use secrecy::SecretBox;
use sha2::{Digest, Sha256};

use crate::ports::{DataKey, EncryptionContext, KeyError, KeyProvider};

const WRAP_FORMAT: &[u8] = b"lk1";
const MASTER_KEY_FILE: &str = "master.key";

pub struct LocalKeyProvider {
    cipher: Aes256Gcm,
    key_id: String,
}

impl LocalKeyProvider {
    pub fn new(master_key: [u8; 32]) -> Self {
        let fingerprint = Sha256::digest(master_key);
        let key_id = format!("local:{}", hex(&fingerprint[..8]));
        Self { cipher: Aes256Gcm::new(&master_key.into()), key_id }
    }

    /// Reads `<dir>/master.key` (base64), creating it with a fresh random key if absent.
    pub fn load_or_create(dir: &Path) -> io::Result<Self> {
        let path = dir.join(MASTER_KEY_FILE);
        let engine = base64::engine::general_purpose::STANDARD;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = engine.decode(text.trim()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                let key: [u8; 32] = bytes.try_into().map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{} must hold 32 bytes", path.display()))
                })?;
                Ok(Self::new(key))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let key = crate::crypto::random::bytes::<32>();
                write_private(&path, engine.encode(key).as_bytes())?;
                Ok(Self::new(key))
            }
            Err(e) => Err(e),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

#[async_trait]
impl KeyProvider for LocalKeyProvider {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyError> {
        let data_key = crate::crypto::random::bytes::<32>();
        let nonce = crate::crypto::random::bytes::<12>();
        let aad = context.aad();
        let wrapped = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &data_key, aad: &aad })
            .map_err(|_| KeyError::Rejected)?;
        let mut encrypted = Vec::with_capacity(WRAP_FORMAT.len() + 12 + wrapped.len());
        encrypted.extend_from_slice(WRAP_FORMAT);
        encrypted.extend_from_slice(&nonce);
        encrypted.extend_from_slice(&wrapped);
        Ok(DataKey { plaintext: SecretBox::new(Box::new(data_key)), encrypted, key_id: self.key_id.clone() })
    }

    async fn decrypt_data_key(
        &self,
        encrypted: &[u8],
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<SecretBox<[u8; 32]>, KeyError> {
        if key_id != self.key_id {
            return Err(KeyError::Rejected);
        }
        let rest = encrypted.strip_prefix(WRAP_FORMAT).ok_or(KeyError::Rejected)?;
        if rest.len() < 12 {
            return Err(KeyError::Rejected);
        }
        let (nonce, wrapped) = rest.split_at(12);
        let aad = context.aad();
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: wrapped, aad: &aad })
            .map_err(|_| KeyError::Rejected)?;
        let key: [u8; 32] = plaintext.try_into().map_err(|_| KeyError::Rejected)?;
        Ok(SecretBox::new(Box::new(key)))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConnectionKey, TenantId, UserId};
    use crate::ports::SealPurpose;
    use secrecy::ExposeSecret;

    fn context(user: &str, purpose: SealPurpose) -> EncryptionContext {
        let key = ConnectionKey::new(
            TenantId::parse("t1").unwrap(),
            UserId::parse(user).unwrap(),
            crate::domain::Provider::Google,
        );
        EncryptionContext::new(&key, purpose)
    }

    #[tokio::test]
    async fn unwraps_only_under_the_same_context_and_master_key() {
        let keys = LocalKeyProvider::new([1u8; 32]);
        let dk = keys.generate_data_key(&context("u1", SealPurpose::Tokens)).await.unwrap();
        let back = keys.decrypt_data_key(&dk.encrypted, &dk.key_id, &context("u1", SealPurpose::Tokens)).await.unwrap();
        assert_eq!(back.expose_secret(), dk.plaintext.expose_secret());
        for other in [context("u2", SealPurpose::Tokens), context("u1", SealPurpose::OAuthState)] {
            assert!(matches!(keys.decrypt_data_key(&dk.encrypted, &dk.key_id, &other).await, Err(KeyError::Rejected)));
        }
        let other_master = LocalKeyProvider::new([2u8; 32]);
        assert!(
            other_master
                .decrypt_data_key(&dk.encrypted, other_master.key_id(), &context("u1", SealPurpose::Tokens))
                .await
                .is_err()
        );
    }

    #[test]
    fn master_key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("calbridge-key-{}", crate::crypto::random::token()));
        let first = LocalKeyProvider::load_or_create(&dir).unwrap();
        let second = LocalKeyProvider::load_or_create(&dir).unwrap();
        assert_eq!(first.key_id(), second.key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(MASTER_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "master key must be owner-only");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
