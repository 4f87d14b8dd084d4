//! The stored form of a [`FlowRecord`].
//!
//! Contract: the kind and id hash are the store's key, not part of the form; the sealed PKCE
//! verifier is the four `verifier_*` attributes, all present or all absent.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Bytes, Nonce, owner};
use crate::ports::{FlowKind, FlowRecord, SealedSecret, StoreError};

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredFlow {
    tenant_id: String,
    user_id: String,
    provider: String,
    return_to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    browser_binding_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier_ct: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier_nonce: Option<Nonce>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier_edk: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier_key_id: Option<String>,
    expires_at: Timestamp,
}

impl StoredFlow {
    pub(crate) fn from_record(record: &FlowRecord) -> Self {
        let sealed = record.sealed_pkce_verifier.as_ref();
        Self {
            tenant_id: record.owner.tenant.to_string(),
            user_id: record.owner.user.to_string(),
            provider: record.owner.provider.as_str().to_owned(),
            return_to: record.return_to.clone(),
            login_hint: record.login_hint.clone(),
            account_label: record.account_label.clone(),
            browser_binding_hash: record.browser_binding_hash.clone(),
            verifier_ct: sealed.map(|s| Bytes(s.ciphertext.clone())),
            verifier_nonce: sealed.map(|s| Nonce(s.nonce)),
            verifier_edk: sealed.map(|s| Bytes(s.encrypted_data_key.clone())),
            verifier_key_id: sealed.map(|s| s.key_id.clone()),
            expires_at: record.expires_at,
        }
    }

    /// The record stored under `kind` and `id_hash`.
    pub(crate) fn into_record(self, kind: FlowKind, id_hash: &str) -> Result<FlowRecord, StoreError> {
        let sealed_pkce_verifier =
            match (self.verifier_ct, self.verifier_nonce, self.verifier_edk, self.verifier_key_id) {
                (Some(ct), Some(nonce), Some(edk), Some(key_id)) => {
                    Some(SealedSecret { ciphertext: ct.0, nonce: nonce.0, encrypted_data_key: edk.0, key_id })
                }
                (None, None, None, None) => None,
                _ => {
                    return Err(StoreError::Corrupt("some but not all `verifier_*` attributes are present".to_owned()));
                }
            };
        Ok(FlowRecord {
            kind,
            id_hash: id_hash.to_owned(),
            owner: owner(&self.tenant_id, &self.user_id, &self.provider)?,
            return_to: self.return_to,
            login_hint: self.login_hint,
            account_label: self.account_label,
            browser_binding_hash: self.browser_binding_hash,
            sealed_pkce_verifier,
            expires_at: self.expires_at,
        })
    }
}
