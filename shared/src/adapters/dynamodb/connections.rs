//! Connection items: pk `T#{tenant}#U#{user}`, sk `CONN#{provider}`, one per user and provider.
//! Contract: the item's own `tenant_id`/`user_id`/`provider` must agree with its key; items
//! written before providers were neutral name the account `google_account_id` and still read.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use jiff::Timestamp;

use super::attributes::{Attributes, epoch_millis, number, put_optional_string, put_owner, put_sealed, timestamp};
use super::{DynamoDbStore, Item, corrupt, sdk_unavailable};
use crate::domain::ConnectionKey;
use crate::ports::{ConnectionRecord, ConnectionStatus, ConnectionStore, StoreError, WriteCondition};

#[async_trait]
impl ConnectionStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn get_connection(&self, key: &ConnectionKey) -> Result<Option<ConnectionRecord>, StoreError> {
        let (pk, sk) = connection_key(key);
        self.get_item(pk, &sk).await?.map(|item| connection_from_item(key, &item)).transpose()
    }

    #[tracing::instrument(
        skip_all,
        fields(table = %self.table, tenant = %record.key.tenant, user = %record.key.user, version = record.version)
    )]
    async fn put_connection(&self, record: &ConnectionRecord, condition: WriteCondition) -> Result<(), StoreError> {
        self.put_item_if(connection_to_item(record), condition, "version").await
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn delete_connection(&self, key: &ConnectionKey) -> Result<bool, StoreError> {
        let (pk, sk) = connection_key(key);
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            // The old item tells whether there was one; it is dropped unread.
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|err| sdk_unavailable("DeleteItem", err))?;
        Ok(output.attributes.is_some_and(|item| !item.is_empty()))
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user, version))]
    async fn acquire_refresh_lease(
        &self,
        key: &ConnectionKey,
        version: u64,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = connection_key(key);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression("SET #lease = :until")
            .condition_expression("#version = :version AND (attribute_not_exists(#lease) OR #lease <= :now)")
            .expression_attribute_names("#lease", "refresh_lease_until")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":until", epoch_millis(until))
            .expression_attribute_values(":now", epoch_millis(now))
            .expression_attribute_values(":version", number(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(sdk_unavailable("UpdateItem", err)),
        }
    }
}

fn connection_key(key: &ConnectionKey) -> (String, String) {
    (format!("T#{}#U#{}", key.tenant, key.user), format!("CONN#{}", key.provider.as_str()))
}

fn connection_to_item(record: &ConnectionRecord) -> Item {
    let (pk, sk) = connection_key(&record.key);
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(pk));
    item.insert("sk".into(), AttributeValue::S(sk));
    put_owner(&mut item, &record.key);
    item.insert("version".into(), number(record.version));
    item.insert("status".into(), AttributeValue::S(record.status.as_str().to_owned()));
    item.insert("account_id".into(), AttributeValue::S(record.account_id.clone()));
    put_optional_string(&mut item, "email", record.email.as_deref());
    item.insert("scopes".into(), AttributeValue::L(record.scopes.iter().cloned().map(AttributeValue::S).collect()));
    item.insert("connected_at".into(), timestamp(record.connected_at));
    item.insert("updated_at".into(), timestamp(record.updated_at));
    put_optional_string(&mut item, "last_error", record.last_error.as_deref());
    if let Some(at) = record.access_token_expires_at {
        item.insert("access_token_expires_at".into(), timestamp(at));
    }
    put_optional_string(&mut item, "selected_calendar_id", record.selected_calendar_id.as_deref());
    if let Some(until) = record.refresh_lease_until {
        item.insert("refresh_lease_until".into(), epoch_millis(until));
    }
    put_sealed(&mut item, "tokens", &record.sealed_tokens);
    item
}

fn connection_from_item(key: &ConnectionKey, item: &Item) -> Result<ConnectionRecord, StoreError> {
    let item = Attributes(item);
    let stored_key = item.owner()?;
    if &stored_key != key {
        // The item's own fields must agree with the key it was found under.
        return Err(StoreError::Corrupt("tenant_id/user_id/provider disagree with pk/sk".to_owned()));
    }
    let status = item.string("status")?;
    Ok(ConnectionRecord {
        key: stored_key,
        version: item.number("version")?,
        status: ConnectionStatus::parse(status).ok_or_else(|| corrupt("status"))?,
        // Items written before providers were neutral name it `google_account_id`.
        account_id: item.string("account_id").or_else(|_| item.string("google_account_id"))?.to_owned(),
        email: item.optional_string("email")?,
        scopes: item.string_list("scopes")?,
        connected_at: item.timestamp("connected_at")?,
        updated_at: item.timestamp("updated_at")?,
        last_error: item.optional_string("last_error")?,
        access_token_expires_at: item.optional_timestamp("access_token_expires_at")?,
        selected_calendar_id: item.optional_string("selected_calendar_id")?,
        refresh_lease_until: match item.0.get("refresh_lease_until") {
            None => None,
            Some(AttributeValue::N(ms)) => Some(
                ms.parse()
                    .ok()
                    .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                    .ok_or_else(|| corrupt("refresh_lease_until"))?,
            ),
            Some(_) => return Err(corrupt("refresh_lease_until")),
        },
        sealed_tokens: item.sealed("tokens")?,
    })
}
