//! Call budgets in the `budgets` table, keyed `{tenant}#{user}#{provider}`, each the counter of
//! the latest minute spent in (`{"minute":..,"calls":..}`); a new minute replaces it.
//!
//! Contract: check and add happen in one write transaction, so spends are atomic as the
//! DynamoDB store's conditional update is.

use async_trait::async_trait;
use jiff::Timestamp;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::{EmbeddedStore, Table, unavailable};
use crate::domain::ConnectionKey;
use crate::ports::{BudgetError, CallBudget, StoreError, exhausted, minute_window};

pub(super) const BUDGETS: Table = Table::new("budgets");

#[derive(Serialize, Deserialize)]
struct Counter {
    minute: i64,
    calls: u32,
}

#[async_trait]
impl CallBudget for EmbeddedStore {
    async fn spend(&self, key: &ConnectionKey, calls: u32, limit: u32, now: Timestamp) -> Result<(), BudgetError> {
        let id = format!("{}#{}#{}", key.tenant, key.user, key.provider.as_str());
        let (minute, _) = minute_window(now);
        let granted = self
            .write(BUDGETS, move |table| {
                let spent = match table.get(id.as_str()).map_err(unavailable)? {
                    Some(value) => {
                        let counter: Counter = serde_json::from_slice(value.value())
                            .map_err(|e| StoreError::Corrupt(format!("budget counter: {e}")))?;
                        if counter.minute == minute { counter.calls } else { 0 }
                    }
                    None => 0,
                };
                let Some(total) = spent.checked_add(calls).filter(|total| *total <= limit) else {
                    return Ok(false);
                };
                let bytes = serde_json::to_vec(&Counter { minute, calls: total }).map_err(unavailable)?;
                table.insert(id.as_str(), bytes.as_slice()).map_err(unavailable)?;
                Ok(true)
            })
            .await?;
        if granted { Ok(()) } else { Err(exhausted(now)) }
    }
}
