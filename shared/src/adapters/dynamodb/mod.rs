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
//! | budget     | `T#{tenant}#U#{user}`       | `BUDGET#{provider}#{minute}` | `budgets.rs` |
//! | mail send  | `T#{tenant}#U#{user}`       | `SEND#{idempotency key}` | `sends.rs`  |
//!
//! Connection items also carry `account_pk` = `{provider}#{account_id}`, the hash key of the
//! GSI `account-index` (projecting `tenant_id`, `user_id`, `provider`): which connections, in
//! any tenant, share one provider account (and so one grant at the provider); and
//! `tenant_pk` = `T#{tenant}` with `user_sk` = `{user}#{provider}`, the keys of the GSI
//! `tenant-index` (projecting the fields the admin listing shows): a tenant's connections.
//! | booking    | `T#{tenant}`                | `BOOKING#{link id}`| `booking_links.rs`|
//!
//! Besides its key, an item holds its record's stored form (`stored_forms`: the field names
//! are the attribute names), mapped by `items.rs`: sealed secrets are four attributes under
//! one prefix (`{p}_ct`, `{p}_nonce`, `{p}_edk` as binary, `{p}_key_id` as string); timestamps
//! are RFC 3339 strings; leases are epoch milliseconds; absent optionals are omitted. Flow,
//! budget, send and booking-link items also carry `ttl` (epoch seconds) so DynamoDB reaps abandoned
//! consents, past minutes' counters, day-old Idempotency-Keys and expired links.
//!
//! Contract: writes are conditional (`attribute_not_exists(pk)` to create, `version = :v` or
//! `revision = :v` to replace, which is false for a deleted item, so a late writer cannot
//! resurrect a disconnected user); reads are strongly consistent; a flow is taken by a
//! conditional `DeleteItem` returning the old item, so of concurrent takers exactly one gets it.
//! A failed condition is [`StoreError::ConditionFailed`], an item that does not parse is
//! [`StoreError::Corrupt`] naming the attribute, anything else is [`StoreError::Unavailable`].

mod booking_links;
mod budgets;
mod connections;
mod flows;
mod items;
mod meetings;
mod sends;
mod syncs;
mod table;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::{StoreError, WriteCondition};
use items::value;

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
    async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
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
                .expression_attribute_values(":expected", value(expected)),
        };
        conditional("PutItem", request.send().await)?.map(drop).ok_or(StoreError::ConditionFailed)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The output of a conditional call, or `None` when only its condition did not hold.
fn conditional<T, E, R>(operation: &'static str, result: Result<T, SdkError<E, R>>) -> Result<Option<T>, StoreError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        // Every operation's error type has its own `is_conditional_check_failed_exception`; the
        // code they all read it from is this one.
        Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(None),
        Err(err) => Err(sdk_unavailable(operation, err)),
    }
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
