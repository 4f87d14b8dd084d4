//! Flow items: pk `FLOW#{kind}#{id_hash}`, sk `FLOW`, with `ttl` from `expires_at`.
//! Contract: created only where none exists; taken by a conditional delete, exactly once.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::attributes::{Attributes, put_optional_string, put_owner, put_sealed, timestamp};
use super::{DynamoDbStore, Item, TTL_ATTRIBUTE, sdk_unavailable};
use crate::ports::{FlowKind, FlowRecord, FlowStore, StoreError};

#[async_trait]
impl FlowStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, kind = record.kind.as_str()))]
    async fn put_flow(&self, record: &FlowRecord) -> Result<(), StoreError> {
        // Ids are hashes of 256 random bits, so a collision means a bug: never overwrite a
        // pending step someone else may be about to spend.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(flow_to_item(record)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::ConditionFailed)
            }
            Err(err) => Err(sdk_unavailable("PutItem", err)),
        }
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, kind = kind.as_str()))]
    async fn take_flow(&self, kind: FlowKind, id_hash: &str) -> Result<Option<FlowRecord>, StoreError> {
        // A conditional delete is the atomic "take": DynamoDB serialises writes to one item, so
        // only one caller's condition sees the item.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(flow_pk(kind, id_hash)))
            .key("sk", AttributeValue::S(FLOW_SK.to_owned()))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) if !item.is_empty() => flow_from_item(kind, id_hash, &item).map(Some),
                _ => Err(StoreError::Corrupt("DeleteItem returned no old item".to_owned())),
            },
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(err) => Err(sdk_unavailable("DeleteItem", err)),
        }
    }
}

const FLOW_SK: &str = "FLOW";

fn flow_pk(kind: FlowKind, id_hash: &str) -> String {
    format!("FLOW#{}#{}", kind.as_str(), id_hash)
}

fn flow_to_item(record: &FlowRecord) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(flow_pk(record.kind, &record.id_hash)));
    item.insert("sk".into(), AttributeValue::S(FLOW_SK.to_owned()));
    put_owner(&mut item, &record.owner);
    item.insert("return_to".into(), AttributeValue::S(record.return_to.clone()));
    put_optional_string(&mut item, "login_hint", record.login_hint.as_deref());
    put_optional_string(&mut item, "browser_binding_hash", record.browser_binding_hash.as_deref());
    if let Some(sealed) = &record.sealed_pkce_verifier {
        put_sealed(&mut item, "verifier", sealed);
    }
    item.insert("expires_at".into(), timestamp(record.expires_at));
    item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(record.expires_at.as_second().to_string()));
    item
}

fn flow_from_item(kind: FlowKind, id_hash: &str, item: &Item) -> Result<FlowRecord, StoreError> {
    let item = Attributes(item);
    let sealed_pkce_verifier = if item.0.contains_key("verifier_ct") { Some(item.sealed("verifier")?) } else { None };
    Ok(FlowRecord {
        kind,
        id_hash: id_hash.to_owned(),
        owner: item.owner()?,
        return_to: item.string("return_to")?.to_owned(),
        login_hint: item.optional_string("login_hint")?,
        browser_binding_hash: item.optional_string("browser_binding_hash")?,
        sealed_pkce_verifier,
        expires_at: item.timestamp("expires_at")?,
    })
}
