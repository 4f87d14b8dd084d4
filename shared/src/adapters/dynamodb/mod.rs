//! The production stores: one DynamoDB table holds every record family.
//!
//! Layout (the SAM template, the local stack and operators rely on it):
//!
//! | record     | `pk`                        | `sk`               | file              |
//! |------------|-----------------------------|--------------------|-------------------|
//! | connection | `T#{tenant}#U#{user}`       | `CONN#{provider}`  | `connections.rs`  |
//! | flow step  | `FLOW#{kind}#{id_hash}`     | `FLOW`             | `flows.rs`        |
//! | sync       | `T#{tenant}#A#{appointment}`| `SYNC`             | `syncs.rs`        |
//! | meeting    | `T#{tenant}#S#{session}`    | `MEET`             | `meetings.rs`     |
//!
//! Sealed secrets are four attributes under one prefix (`{p}_ct`, `{p}_nonce`, `{p}_edk` as
//! binary, `{p}_key_id` as string); timestamps are RFC 3339 strings; leases are epoch
//! milliseconds; flow items carry `ttl` (epoch seconds) so DynamoDB reaps abandoned consents.
//!
//! Contract: writes are conditional (`attribute_not_exists(pk)` to create, `version = :v` or
//! `revision = :v` to replace, which is false for a deleted item, so a late writer cannot
//! resurrect a disconnected user); reads are strongly consistent; a flow is taken by a
//! conditional `DeleteItem` returning the old item, so of concurrent takers exactly one gets it.
//! A failed condition is [`StoreError::ConditionFailed`], an item that does not parse is
//! [`StoreError::Corrupt`] naming the attribute, anything else is [`StoreError::Unavailable`].

mod attributes;
mod connections;
mod flows;
mod meetings;
mod syncs;
mod table;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::{StoreError, WriteCondition};
use attributes::number;

pub use table::create_table;

/// The TTL attribute; also named in the SAM template.
pub const TTL_ATTRIBUTE: &str = "ttl";

type Item = HashMap<String, AttributeValue>;

pub struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl std::fmt::Debug for DynamoDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbStore").field("table", &self.table).finish_non_exhaustive()
    }
}

impl DynamoDbStore {
    /// A strongly consistent read of one item.
    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_unavailable("GetItem", err))?;
        Ok(output.item.filter(|item| !item.is_empty()))
    }

    /// Puts `item` if `condition` holds on its `counter` attribute (`version` or `revision`).
    async fn put_item_if(&self, item: Item, condition: WriteCondition, counter: &str) -> Result<(), StoreError> {
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let request = match condition {
            WriteCondition::Absent => request.condition_expression("attribute_not_exists(pk)"),
            WriteCondition::Version(expected) => request
                .condition_expression("#counter = :expected")
                .expression_attribute_names("#counter", counter)
                .expression_attribute_values(":expected", number(expected)),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::ConditionFailed)
            }
            Err(err) => Err(sdk_unavailable("PutItem", err)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn corrupt(attribute: &str) -> StoreError {
    StoreError::Corrupt(format!("attribute `{attribute}` is missing or has the wrong type"))
}

fn unavailable(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Box::new(err))
}

/// Logs the full SDK error chain (the `Display` of an `SdkError` alone says only "service
/// error") and keeps it as the source.
fn sdk_unavailable<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    tracing::warn!(operation, code = err.code(), error = %DisplayErrorContext(&err), "dynamodb call failed");
    unavailable(err)
}
