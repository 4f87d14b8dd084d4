//! Flow items: pk `FLOW#{kind}#{id_hash}`, sk `FLOW`, holding a [`StoredFlow`] and `ttl`
//! (`expires_at` in epoch seconds) so that DynamoDB reaps abandoned consents.
//!
//! Contract: created only where none exists; taken by a conditional `DeleteItem` returning the
//! old item, so of concurrent takers exactly one gets it.
//!
//! Webhook deliveries: pk `WEBHOOK#{signature_hash}`, sk `WEBHOOK`, holding `expires_at` and
//! `ttl`, put only where none exists.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use jiff::Timestamp;

use super::items::{self, from_item, to_item};
use super::{DynamoDbStore, Item, TTL_ATTRIBUTE, conditional};
use crate::adapters::stored_forms::StoredFlow;
use crate::ports::{FlowKind, FlowRecord, FlowStore, StoreError};

fn flow_key(kind: FlowKind, id_hash: &str) -> Item {
    items::key(format!("FLOW#{}#{}", kind.as_str(), id_hash), "FLOW")
}

#[async_trait]
impl FlowStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, kind = record.kind.as_str()))]
    async fn put_flow(&self, record: &FlowRecord) -> Result<(), StoreError> {
        let mut item = to_item(&StoredFlow::from_record(record), flow_key(record.kind, &record.id_hash));
        item.insert(TTL_ATTRIBUTE.to_owned(), AttributeValue::N(record.expires_at.as_second().to_string()));
        // Ids are hashes of 256 random bits, so a collision means a bug: never overwrite a
        // pending step someone else may be about to spend.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional("PutItem", result)?.map(drop).ok_or(StoreError::ConditionFailed)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, kind = kind.as_str()))]
    async fn take_flow(&self, kind: FlowKind, id_hash: &str) -> Result<Option<FlowRecord>, StoreError> {
        // A conditional delete is the atomic "take": DynamoDB serialises writes to one item, so
        // only one caller's condition sees the item.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(flow_key(kind, id_hash)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let Some(output) = conditional("DeleteItem", result)? else { return Ok(None) };
        match output.attributes {
            Some(item) if !item.is_empty() => from_item::<StoredFlow>(item)?.into_record(kind, id_hash).map(Some),
            _ => Err(StoreError::Corrupt("DeleteItem returned no old item".to_owned())),
        }
    }

    #[tracing::instrument(skip_all, fields(table = %self.table))]
    async fn record_webhook_delivery(&self, signature_hash: &str, expires_at: Timestamp) -> Result<bool, StoreError> {
        let mut item = items::key(format!("WEBHOOK#{signature_hash}"), "WEBHOOK");
        item.insert("expires_at".to_owned(), AttributeValue::S(expires_at.to_string()));
        item.insert(TTL_ATTRIBUTE.to_owned(), AttributeValue::N(expires_at.as_second().to_string()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        Ok(conditional("PutItem", result)?.is_some())
    }
}
