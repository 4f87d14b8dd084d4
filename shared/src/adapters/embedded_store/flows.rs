//! Flow steps in the `flows` table, keyed `{kind}#{id_hash}`, each a [`StoredFlow`].
//!
//! Contract: created only where none exists; taken (removed and returned) in one write
//! transaction, so exactly once. Webhook deliveries are recorded in `webhook_deliveries` only
//! where none is, in one write transaction. Nothing reaps expired steps or deliveries: the
//! local stack is short-lived.

use async_trait::async_trait;
use jiff::Timestamp;
use redb::ReadableTable;

use super::{EmbeddedStore, Table, decode, encode, unavailable};
use crate::adapters::stored_forms::StoredFlow;
use crate::ports::{FlowKind, FlowRecord, FlowStore, StoreError};

pub(super) const FLOWS: Table = Table::new("flows");
/// Verified webhook deliveries, keyed by the hash of their signature, each its expiry (RFC 3339).
pub(super) const WEBHOOK_DELIVERIES: Table = Table::new("webhook_deliveries");

fn flow_key(kind: FlowKind, id_hash: &str) -> String {
    format!("{}#{id_hash}", kind.as_str())
}

#[async_trait]
impl FlowStore for EmbeddedStore {
    async fn put_flow(&self, record: &FlowRecord) -> Result<(), StoreError> {
        let id = flow_key(record.kind, &record.id_hash);
        let bytes = encode(&StoredFlow::from_record(record))?;
        self.write(FLOWS, move |table| {
            // Ids are 256-bit random, so a clash means a bug: refuse rather than overwrite, as
            // the DynamoDB store does.
            if table.get(id.as_str()).map_err(unavailable)?.is_some() {
                return Err(StoreError::ConditionFailed);
            }
            table.insert(id.as_str(), bytes.as_slice()).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn take_flow(&self, kind: FlowKind, id_hash: &str) -> Result<Option<FlowRecord>, StoreError> {
        let (id, id_hash) = (flow_key(kind, id_hash), id_hash.to_owned());
        self.write(FLOWS, move |table| {
            let Some(removed) = table.remove(id.as_str()).map_err(unavailable)? else {
                return Ok(None);
            };
            decode::<StoredFlow>(removed.value())?.into_record(kind, &id_hash).map(Some)
        })
        .await
    }

    async fn record_webhook_delivery(&self, signature_hash: &str, expires_at: Timestamp) -> Result<bool, StoreError> {
        let (id, value) = (signature_hash.to_owned(), expires_at.to_string());
        self.write(WEBHOOK_DELIVERIES, move |table| {
            if table.get(id.as_str()).map_err(unavailable)?.is_some() {
                return Ok(false);
            }
            table.insert(id.as_str(), value.as_bytes()).map_err(unavailable)?;
            Ok(true)
        })
        .await
    }
}
