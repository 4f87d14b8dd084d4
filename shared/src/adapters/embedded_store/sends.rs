//! Idempotency records of sent mail in the `sends` table, keyed
//! `T#{tenant}#U#{user}#K#{idempotency key}`, each a [`StoredSend`].
//!
//! Contract: a claim reads and writes in one write transaction (redb serialises writers), so of
//! concurrent claims exactly one creates the record, as the DynamoDB conditional put does.

use async_trait::async_trait;
use jiff::Timestamp;
use redb::ReadableTable;
use serde_json::{Map, Value};

use super::json::{EmbeddedForm, decode, encode};
use super::{EmbeddedStore, Table, unavailable};
use crate::adapters::stored_forms::StoredSend;
use crate::ports::{Claim, SendKey, SendRecord, SendStore, StoreError};

pub(super) const SENDS: Table = Table::new("sends");

impl EmbeddedForm for StoredSend {
    fn upgrade(_: &mut Map<String, Value>) {}
}

fn send_key(key: &SendKey) -> String {
    format!("T#{}#U#{}#K#{}", key.tenant, key.user, key.idempotency_key)
}

#[async_trait]
impl SendStore for EmbeddedStore {
    async fn claim_send(&self, key: &SendKey, record: &SendRecord, now: Timestamp) -> Result<Claim, StoreError> {
        let id = send_key(key);
        let bytes = encode(&StoredSend::from_record(record))?;
        self.write(SENDS, move |table| {
            if let Some(value) = table.get(id.as_str()).map_err(unavailable)? {
                let stored = decode::<StoredSend>(value.value())?;
                if stored.expires_at() > now {
                    return stored.into_record().map(Claim::Existing);
                }
            }
            table.insert(id.as_str(), bytes.as_slice()).map_err(unavailable)?;
            Ok(Claim::Claimed)
        })
        .await
    }

    async fn settle_send(&self, key: &SendKey, record: &SendRecord) -> Result<(), StoreError> {
        let id = send_key(key);
        let bytes = encode(&StoredSend::from_record(record))?;
        self.write(SENDS, move |table| {
            table.insert(id.as_str(), bytes.as_slice()).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn release_send(&self, key: &SendKey) -> Result<(), StoreError> {
        let id = send_key(key);
        self.write(SENDS, move |table| {
            table.remove(id.as_str()).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn get_send(&self, key: &SendKey) -> Result<Option<SendRecord>, StoreError> {
        self.read::<StoredSend>(SENDS, send_key(key)).await?.map(StoredSend::into_record).transpose()
    }
}
