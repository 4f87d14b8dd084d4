//! Call-budget items: pk `T#{tenant}#U#{user}`, sk `BUDGET#{provider}#{minute}`, one per
//! connection and UTC minute, holding `calls` and `ttl` (a minute after the window ends).
//!
//! Contract: a spend is one conditional `UpdateItem` (`ADD calls`, condition: no counter yet
//! or one with room for the calls), so concurrent containers never grant more than the limit.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

use super::items::{self, value};
use super::{DynamoDbStore, Item, TTL_ATTRIBUTE, conditional};
use crate::domain::ConnectionKey;
use crate::ports::{BudgetError, CallBudget, exhausted, minute_window};

fn budget_key(key: &ConnectionKey, minute: i64) -> Item {
    items::key(format!("T#{}#U#{}", key.tenant, key.user), &format!("BUDGET#{}#{minute}", key.provider.as_str()))
}

#[async_trait]
impl CallBudget for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user, calls = calls))]
    async fn spend(&self, key: &ConnectionKey, calls: u32, limit: u32, now: Timestamp) -> Result<(), BudgetError> {
        let Some(room) = limit.checked_sub(calls) else { return Err(exhausted(now)) };
        let (minute, _) = minute_window(now);
        // Reaped a minute after its window closes; nothing reads it after the window anyway.
        let reap_at = (minute + 2) * 60;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(budget_key(key, minute)))
            .update_expression("ADD calls :calls SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(calls) OR calls <= :room")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":calls", value(calls))
            .expression_attribute_values(":room", value(room))
            .expression_attribute_values(":ttl", AttributeValue::N(reap_at.to_string()))
            .send()
            .await;
        match conditional("UpdateItem", result)? {
            Some(_) => Ok(()),
            None => Err(exhausted(now)),
        }
    }
}
