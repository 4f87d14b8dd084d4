//! Idempotency records of sent mail: pk `T#{tenant}#U#{user}`, sk `SEND#{idempotency key}`,
//! holding a [`StoredSend`] and `ttl` (its `expires_at`, so DynamoDB reaps it a day on).
//!
//! Contract: a claim is one conditional `PutItem` (no item, or one whose `ttl` has passed:
//! DynamoDB reaps late), so of concurrent claims exactly one wins; a loser reads the winner's
//! record with a strongly consistent read.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

use super::items::{self, from_item, to_item};
use super::{DynamoDbStore, Item, TTL_ATTRIBUTE, conditional, sdk_unavailable};
use crate::adapters::stored_forms::StoredSend;
use crate::ports::{Claim, SendKey, SendRecord, SendStore, StoreError};

fn send_key(key: &SendKey) -> Item {
    items::key(format!("T#{}#U#{}", key.tenant, key.user), &format!("SEND#{}", key.idempotency_key))
}

fn send_item(key: &SendKey, record: &SendRecord) -> Item {
    let mut item = to_item(&StoredSend::from_record(record), send_key(key));
    item.insert(TTL_ATTRIBUTE.to_owned(), AttributeValue::N(record.expires_at.as_second().to_string()));
    item
}

#[async_trait]
impl SendStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn claim_send(&self, key: &SendKey, record: &SendRecord, now: Timestamp) -> Result<Claim, StoreError> {
        // A record released between the refused put and the read lets the next put win.
        for _ in 0..3 {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(send_item(key, record)))
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", AttributeValue::N(now.as_second().to_string()))
                .send()
                .await;
            if conditional("PutItem", result)?.is_some() {
                return Ok(Claim::Claimed);
            }
            if let Some(existing) = self.get_send(key).await? {
                return Ok(Claim::Existing(existing));
            }
        }
        Err(StoreError::ConditionFailed)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn settle_send(&self, key: &SendKey, record: &SendRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(send_item(key, record)))
            .send()
            .await
            .map_err(|err| sdk_unavailable("PutItem", err))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn release_send(&self, key: &SendKey) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(send_key(key)))
            .send()
            .await
            .map_err(|err| sdk_unavailable("DeleteItem", err))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn get_send(&self, key: &SendKey) -> Result<Option<SendRecord>, StoreError> {
        let Some(item) = self.get_item(send_key(key)).await? else { return Ok(None) };
        from_item::<StoredSend>(item)?.into_record().map(Some)
    }
}
