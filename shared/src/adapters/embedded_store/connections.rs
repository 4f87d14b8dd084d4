//! Connections in the `connections` table, keyed `T#{tenant}#U#{user}#{provider}`, each a
//! [`StoredConnection`].
//!
//! Contract: writes are conditional on `version`; the refresh lease is checked and taken in one
//! write transaction, at millisecond precision as in DynamoDB, and leaves `version` alone;
//! connections of one provider account are found by a scan (no index: an offline store holds
//! few); a tenant's connections are a range of keys (`T#{tenant}#U#` onwards), which orders
//! them by `{user}#{provider}` as the DynamoDB tenant index does; `record_use` checks the
//! version and the previous `last_used_at` and sets only that field, in one write transaction.

use async_trait::async_trait;
use jiff::Timestamp;
use redb::ReadableTable;

use super::{EmbeddedStore, Table, decode, encode, unavailable};
use crate::adapters::stored_forms::{EpochMillis, StoredConnection};
use crate::domain::{ConnectionKey, Provider, TenantId};
use crate::ports::{ConnectionPage, ConnectionQuery, ConnectionRecord, ConnectionStore, StoreError, WriteCondition};

pub(super) const CONNECTIONS: Table = Table::new("connections");

pub(super) fn connection_key(key: &ConnectionKey) -> String {
    format!("T#{}#U#{}#{}", key.tenant, key.user, key.provider.as_str())
}

#[async_trait]
impl ConnectionStore for EmbeddedStore {
    async fn get_connection(&self, key: &ConnectionKey) -> Result<Option<ConnectionRecord>, StoreError> {
        let Some(form) = self.read::<StoredConnection>(CONNECTIONS, connection_key(key)).await? else {
            return Ok(None);
        };
        form.into_record(key).map(Some)
    }

    async fn put_connection(&self, record: &ConnectionRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let form = StoredConnection::from_record(record);
        self.write_if(CONNECTIONS, connection_key(&record.key), &form, condition, |c| c.version).await
    }

    async fn delete_connection(&self, key: &ConnectionKey) -> Result<bool, StoreError> {
        let id = connection_key(key);
        self.write(CONNECTIONS, move |table| Ok(table.remove(id.as_str()).map_err(unavailable)?.is_some())).await
    }

    async fn acquire_refresh_lease(
        &self,
        key: &ConnectionKey,
        version: u64,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let id = connection_key(key);
        self.write(CONNECTIONS, move |table| {
            let Some(current) = table.get(id.as_str()).map_err(unavailable)?.map(|v| v.value().to_vec()) else {
                return Ok(false);
            };
            let mut form: StoredConnection = decode(&current)?;
            let held = form.refresh_lease_until.is_some_and(|lease| lease.0.as_millisecond() > now.as_millisecond());
            if form.version != version || held {
                return Ok(false);
            }
            form.refresh_lease_until = Some(EpochMillis(until));
            table.insert(id.as_str(), encode(&form)?.as_slice()).map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn connections_of_account(
        &self,
        provider: Provider,
        account_id: &str,
    ) -> Result<Vec<ConnectionKey>, StoreError> {
        let account_id = account_id.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(CONNECTIONS).map_err(unavailable)?;
            let mut keys = Vec::new();
            for entry in table.iter().map_err(unavailable)? {
                let (_, value) = entry.map_err(unavailable)?;
                let form: StoredConnection = decode(value.value())?;
                if form.is_of_account(provider, &account_id) {
                    keys.push(form.key()?);
                }
            }
            Ok(keys)
        })
        .await
    }

    async fn record_use(
        &self,
        key: &ConnectionKey,
        version: u64,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let id = connection_key(key);
        self.write(CONNECTIONS, move |table| {
            let Some(current) = table.get(id.as_str()).map_err(unavailable)?.map(|v| v.value().to_vec()) else {
                return Ok(false);
            };
            let mut form: StoredConnection = decode(&current)?;
            if form.version != version || form.last_used_at != previous {
                return Ok(false);
            }
            form.last_used_at = Some(at);
            table.insert(id.as_str(), encode(&form)?.as_slice()).map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn list_connections(&self, tenant: &TenantId, query: &ConnectionQuery) -> Result<ConnectionPage, StoreError> {
        let prefix = format!("T#{tenant}#U#");
        let start = match &query.after {
            Some((user, provider)) => format!("{prefix}{user}#{}", provider.as_str()),
            None => prefix.clone(),
        };
        let query = query.clone();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(CONNECTIONS).map_err(unavailable)?;
            let mut connections = Vec::new();
            for entry in table.range(start.as_str()..).map_err(unavailable)? {
                let (id, value) = entry.map_err(unavailable)?;
                if !id.value().starts_with(&prefix) {
                    break;
                }
                if query.after.is_some() && id.value() == start {
                    continue;
                }
                let summary = decode::<StoredConnection>(value.value())?.summary()?;
                if query.provider.is_some_and(|p| p != summary.key.provider)
                    || query.status.is_some_and(|s| s != summary.status)
                {
                    continue;
                }
                if connections.len() == query.limit {
                    return Ok(ConnectionPage { connections, more: true });
                }
                connections.push(summary);
            }
            Ok(ConnectionPage { connections, more: false })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Provider, TenantId, UserId};
    use crate::ports::{ConnectionStatus, SealedSecret};

    #[tokio::test]
    async fn survives_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("calbridge-store-{}", crate::crypto::random::token()));
        let path = dir.join("calbridge.redb");
        let key = ConnectionKey::new(TenantId::parse("t1").unwrap(), UserId::parse("u1").unwrap(), Provider::Google);
        let record = ConnectionRecord {
            key: key.clone(),
            version: 1,
            status: ConnectionStatus::Connected,
            account_id: "1001".into(),
            organisation_id: None,
            email: Some("a@example.com".into()),
            scopes: vec!["openid".into()],
            connected_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
            last_error: None,
            last_used_at: None,
            access_token_expires_at: None,
            selected_calendar_id: None,
            refresh_lease_until: None,
            sealed_tokens: SealedSecret {
                ciphertext: vec![1, 2, 3],
                nonce: [9; 12],
                encrypted_data_key: vec![4, 5],
                key_id: "local:x".into(),
            },
        };
        {
            let store = EmbeddedStore::open(&path).unwrap();
            store.put_connection(&record, WriteCondition::Absent).await.unwrap();
        }
        let reopened = EmbeddedStore::open(&path).unwrap();
        assert_eq!(reopened.get_connection(&key).await.unwrap(), Some(record));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
