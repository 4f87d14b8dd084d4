//! The table itself: created here for tests and the local stack, by the SAM template in
//! production. Contract: [`create_table`] is idempotent and leaves the table active with TTL on
//! [`TTL_ATTRIBUTE`].

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::connections::{ACCOUNT_INDEX, ACCOUNT_PK, TENANT_INDEX, TENANT_PK, USER_SK, tenant_index_projection};
use super::{TTL_ATTRIBUTE, sdk_unavailable, unavailable};
use crate::ports::StoreError;

/// How long [`create_table`] waits for a new table to become active.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

/// Creates the calbridge table (on-demand, `pk`/`sk` strings, TTL on `ttl`, the connections'
/// [`ACCOUNT_INDEX`] and [`TENANT_INDEX`]) for tests and the local stack; production tables come from the SAM
/// template. An existing table is fine.
#[tracing::instrument(skip_all, fields(table = %table))]
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), StoreError> {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(unavailable)
    };
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(unavailable)
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute("pk")?)
        .attribute_definitions(string_attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(string_attribute(ACCOUNT_PK)?)
        .global_secondary_indexes(account_index(key(ACCOUNT_PK, KeyType::Hash)?)?)
        .attribute_definitions(string_attribute(TENANT_PK)?)
        .attribute_definitions(string_attribute(USER_SK)?)
        .global_secondary_indexes(tenant_index(key(TENANT_PK, KeyType::Hash)?, key(USER_SK, KeyType::Range)?)?)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => return Err(sdk_unavailable("CreateTable", err)),
    }
    // An existing table may still be CREATING (another process created it a moment ago).
    client.wait_until_table_exists().table_name(table).wait(TABLE_ACTIVE_TIMEOUT).await.map_err(|err| {
        tracing::warn!(error = %DisplayErrorContext(&err), "table did not become active");
        unavailable(err)
    })?;

    // UpdateTimeToLive fails when TTL is already enabled, so ask first.
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|err| sdk_unavailable("DescribeTimeToLive", err))?;
    let status = ttl.time_to_live_description().and_then(|d| d.time_to_live_status());
    if !matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)) {
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .map_err(unavailable)?,
            )
            .send()
            .await
            .map_err(|err| sdk_unavailable("UpdateTimeToLive", err))?;
    }
    Ok(())
}

/// Connections by provider account (`account_pk`), projecting what names their owner.
fn account_index(hash_key: KeySchemaElement) -> Result<GlobalSecondaryIndex, StoreError> {
    let projection = Projection::builder()
        .projection_type(ProjectionType::Include)
        .non_key_attributes("tenant_id")
        .non_key_attributes("user_id")
        .non_key_attributes("provider")
        .build();
    GlobalSecondaryIndex::builder()
        .index_name(ACCOUNT_INDEX)
        .key_schema(hash_key)
        .projection(projection)
        .build()
        .map_err(unavailable)
}

/// A tenant's connections by `{user}#{provider}`, projecting what the admin listing shows.
fn tenant_index(hash_key: KeySchemaElement, range_key: KeySchemaElement) -> Result<GlobalSecondaryIndex, StoreError> {
    let projection = Projection::builder()
        .projection_type(ProjectionType::Include)
        .set_non_key_attributes(Some(tenant_index_projection().map(str::to_owned).collect()))
        .build();
    GlobalSecondaryIndex::builder()
        .index_name(TENANT_INDEX)
        .key_schema(hash_key)
        .key_schema(range_key)
        .projection(projection)
        .build()
        .map_err(unavailable)
}
