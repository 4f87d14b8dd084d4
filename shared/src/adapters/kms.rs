//! The production [`KeyProvider`]: AWS KMS envelope keys.
//!
//! `GenerateDataKey` (AES-256) and `Decrypt` both carry the [`EncryptionContext`] as the KMS
//! encryption context, so KMS itself refuses to unwrap a data key for any (tenant, user,
//! provider, purpose) other than the one it was generated for; a key policy can further
//! condition on those pairs. Decrypt names the wrapping key explicitly, so a blob cannot make
//! us use some other key.
//!
//! Contract: a refusal that means "this blob does not belong here" (invalid ciphertext, wrong
//! key, access denied for the context) is [`KeyError::Rejected`] and never retried; throttling,
//! network and service faults are [`KeyError::Unavailable`] with the SDK error as source. The
//! plaintext data key is copied into a [`SecretBox`] and the SDK's buffer is zeroized at once;
//! a plaintext that is not 32 bytes is refused rather than padded or truncated.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyUsageType};
use secrecy::SecretBox;
use secrecy::zeroize::Zeroize;

use crate::ports::{DataKey, EncryptionContext, KeyError, KeyProvider};

pub struct KmsKeyProvider {
    client: aws_sdk_kms::Client,
    /// The key new data keys are generated under (id, ARN or alias).
    key_id: String,
}

impl KmsKeyProvider {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into() }
    }
}

impl std::fmt::Debug for KmsKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeyProvider").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// Creates a symmetric encryption key and returns its ARN: for tests and the local stack
/// against an emulator. Production keys come from the SAM template.
///
/// # Panics
/// If KMS refuses: there is nothing a test or a local stack can do without its key.
pub async fn create_key_for_tests(client: &aws_sdk_kms::Client) -> String {
    let output = client
        .create_key()
        .description("calbridge test key")
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap_or_else(|err| panic!("KMS CreateKey failed: {}", DisplayErrorContext(&err)));
    let metadata = output.key_metadata.expect("CreateKey returns the key's metadata");
    metadata.arn.unwrap_or(metadata.key_id)
}

#[async_trait]
impl KeyProvider for KmsKeyProvider {
    #[tracing::instrument(skip_all, fields(key_id = %self.key_id))]
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyError> {
        let mut output = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(|err| sdk_unavailable("GenerateDataKey", err))?;
        let plaintext =
            output.plaintext.take().ok_or_else(|| malformed_response("GenerateDataKey returned no Plaintext"))?;
        // A wrong-sized key from GenerateDataKey is a service fault, not a bad blob.
        let plaintext = into_data_key(plaintext)
            .ok_or_else(|| malformed_response("GenerateDataKey returned a plaintext that is not 32 bytes"))?;
        let encrypted = output
            .ciphertext_blob
            .take()
            .ok_or_else(|| malformed_response("GenerateDataKey returned no CiphertextBlob"))?
            .into_inner();
        // KMS answers with the key's ARN even when we named it by alias: store what unwraps it.
        let key_id = output.key_id.take().unwrap_or_else(|| self.key_id.clone());
        Ok(DataKey { plaintext, encrypted, key_id })
    }

    #[tracing::instrument(skip_all, fields(key_id = %key_id))]
    async fn decrypt_data_key(
        &self,
        encrypted: &[u8],
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<SecretBox<[u8; 32]>, KeyError> {
        let result = self
            .client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(Blob::new(encrypted))
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await;
        let mut output = match result {
            Ok(output) => output,
            Err(err) if is_rejection(&err) => {
                tracing::warn!(code = err.code(), "KMS refused to unwrap a data key");
                return Err(KeyError::Rejected);
            }
            Err(err) => return Err(sdk_unavailable("Decrypt", err)),
        };
        let plaintext = output.plaintext.take().ok_or_else(|| malformed_response("Decrypt returned no Plaintext"))?;
        // Something KMS decrypts under our key and context, yet is not one of our 32-byte data
        // keys, was never produced by `generate_data_key`: refuse it like any foreign blob.
        into_data_key(plaintext).ok_or(KeyError::Rejected)
    }
}

fn kms_context(context: &EncryptionContext) -> HashMap<String, String> {
    context.pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Moves a plaintext data key out of the SDK's blob into a secret box, wiping the blob's bytes.
fn into_data_key(plaintext: Blob) -> Option<SecretBox<[u8; 32]>> {
    let mut bytes = plaintext.into_inner();
    let key = (bytes.len() == 32).then(|| SecretBox::init_with_mut(|key: &mut [u8; 32]| key.copy_from_slice(&bytes)));
    bytes.zeroize();
    key
}

/// KMS's ways of saying the blob, the key or the context is wrong. `AccessDeniedException` is
/// how a key policy conditioned on the encryption context refuses a mismatched context.
fn is_rejection<R>(err: &SdkError<aws_sdk_kms::operation::decrypt::DecryptError, R>) -> bool {
    match err.as_service_error() {
        Some(e) => {
            e.is_invalid_ciphertext_exception()
                || e.is_incorrect_key_exception()
                || e.code() == Some("AccessDeniedException")
        }
        None => false,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct MalformedResponse(&'static str);

fn malformed_response(what: &'static str) -> KeyError {
    KeyError::Unavailable(Box::new(MalformedResponse(what)))
}

/// Logs the full SDK error chain and keeps it as the source.
fn sdk_unavailable<E, R>(operation: &'static str, err: SdkError<E, R>) -> KeyError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    tracing::warn!(operation, code = err.code(), error = %DisplayErrorContext(&err), "kms call failed");
    KeyError::Unavailable(Box::new(err))
}
