//! Typed attribute reads and writes: the one place a Rust value becomes an [`AttributeValue`]
//! of this table and back. Contract: every read failure is [`StoreError::Corrupt`] naming the
//! attribute; absent optionals are omitted, never stored as empty strings or NULL.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

use super::{Item, corrupt};
use crate::domain::{ConnectionKey, Provider, TenantId, UserId};
use crate::ports::{SealedSecret, StoreError};

pub(super) fn put_owner(item: &mut Item, key: &ConnectionKey) {
    item.insert("tenant_id".into(), AttributeValue::S(key.tenant.as_str().to_owned()));
    item.insert("user_id".into(), AttributeValue::S(key.user.as_str().to_owned()));
    item.insert("provider".into(), AttributeValue::S(key.provider.as_str().to_owned()));
}

/// The one place a [`SealedSecret`] becomes attributes: `{prefix}_ct`, `_nonce`, `_edk`, `_key_id`.
pub(super) fn put_sealed(item: &mut Item, prefix: &str, sealed: &SealedSecret) {
    item.insert(format!("{prefix}_ct"), AttributeValue::B(Blob::new(sealed.ciphertext.clone())));
    item.insert(format!("{prefix}_nonce"), AttributeValue::B(Blob::new(sealed.nonce.to_vec())));
    item.insert(format!("{prefix}_edk"), AttributeValue::B(Blob::new(sealed.encrypted_data_key.clone())));
    item.insert(format!("{prefix}_key_id"), AttributeValue::S(sealed.key_id.clone()));
}

pub(super) fn put_optional_string(item: &mut Item, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), AttributeValue::S(value.to_owned()));
    }
}

pub(super) fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn timestamp(value: Timestamp) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// Lease times are numbers, not RFC 3339 strings, because condition expressions compare them
/// and RFC 3339 text with variable fractional digits does not sort.
pub(super) fn epoch_millis(value: Timestamp) -> AttributeValue {
    AttributeValue::N(value.as_millisecond().to_string())
}

/// Typed reads of one item; every failure names the attribute.
pub(super) struct Attributes<'a>(pub(super) &'a Item);

impl Attributes<'_> {
    pub(super) fn string(&self, name: &str) -> Result<&str, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::S(value)) => Ok(value),
            _ => Err(corrupt(name)),
        }
    }

    pub(super) fn optional_string(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
            Some(_) => Err(corrupt(name)),
        }
    }

    pub(super) fn number(&self, name: &str) -> Result<u64, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::N(value)) => value.parse().map_err(|_| corrupt(name)),
            _ => Err(corrupt(name)),
        }
    }

    pub(super) fn blob(&self, name: &str) -> Result<&[u8], StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::B(value)) => Ok(value.as_ref()),
            _ => Err(corrupt(name)),
        }
    }

    pub(super) fn string_list(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::L(values)) => values
                .iter()
                .map(|value| match value {
                    AttributeValue::S(s) => Ok(s.clone()),
                    _ => Err(corrupt(name)),
                })
                .collect(),
            _ => Err(corrupt(name)),
        }
    }

    pub(super) fn timestamp(&self, name: &str) -> Result<Timestamp, StoreError> {
        self.string(name)?.parse().map_err(|_| corrupt(name))
    }

    pub(super) fn optional_timestamp(&self, name: &str) -> Result<Option<Timestamp>, StoreError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(_) => self.timestamp(name).map(Some),
        }
    }

    pub(super) fn owner(&self) -> Result<ConnectionKey, StoreError> {
        let tenant = TenantId::parse(self.string("tenant_id")?).map_err(|_| corrupt("tenant_id"))?;
        let user = UserId::parse(self.string("user_id")?).map_err(|_| corrupt("user_id"))?;
        let provider = Provider::parse(self.string("provider")?).map_err(|_| corrupt("provider"))?;
        Ok(ConnectionKey { tenant, user, provider })
    }

    /// The inverse of [`put_sealed`].
    pub(super) fn sealed(&self, prefix: &str) -> Result<SealedSecret, StoreError> {
        let nonce_name = format!("{prefix}_nonce");
        Ok(SealedSecret {
            ciphertext: self.blob(&format!("{prefix}_ct"))?.to_vec(),
            nonce: self.blob(&nonce_name)?.try_into().map_err(|_| corrupt(&nonce_name))?,
            encrypted_data_key: self.blob(&format!("{prefix}_edk"))?.to_vec(),
            key_id: self.string(&format!("{prefix}_key_id"))?.to_owned(),
        })
    }
}
