//! Connections in the `connections` table, keyed `T#{tenant}#U#{user}#{provider}`.
//! Contract: writes are conditional on `version`; the refresh lease is taken in one write
//! transaction, at millisecond precision as in DynamoDB.

use async_trait::async_trait;
use jiff::Timestamp;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::{EmbeddedStore, StoredSealed, Table, decode, google, parse_key, unavailable};
use crate::domain::ConnectionKey;
use crate::ports::{ConnectionRecord, ConnectionStatus, ConnectionStore, StoreError, WriteCondition};

pub(super) const CONNECTIONS: Table = Table::new("connections");

pub(super) fn connection_key(key: &ConnectionKey) -> String {
    format!("T#{}#U#{}#{}", key.tenant, key.user, key.provider.as_str())
}

#[async_trait]
impl ConnectionStore for EmbeddedStore {
    async fn get_connection(&self, key: &ConnectionKey) -> Result<Option<ConnectionRecord>, StoreError> {
        self.read::<StoredConnection>(CONNECTIONS, connection_key(key))
            .await?
            .map(StoredConnection::into_record)
            .transpose()
    }

    async fn put_connection(&self, record: &ConnectionRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&StoredConnection::from_record(record)).map_err(unavailable)?;
        self.write_if(CONNECTIONS, connection_key(&record.key), bytes, condition, |c: &StoredConnection| c.version)
            .await
    }

    async fn delete_connection(&self, key: &ConnectionKey) -> Result<bool, StoreError> {
        let id = connection_key(key);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let existed = {
                let mut table = txn.open_table(CONNECTIONS).map_err(unavailable)?;
                table.remove(id.as_str()).map_err(unavailable)?.is_some()
            };
            txn.commit().map_err(unavailable)?;
            Ok(existed)
        })
        .await
    }

    async fn acquire_refresh_lease(
        &self,
        key: &ConnectionKey,
        version: u64,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let id = connection_key(key);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(CONNECTIONS).map_err(unavailable)?;
                let Some(current) = table.get(id.as_str()).map_err(unavailable)?.map(|v| v.value().to_vec()) else {
                    return Ok(false);
                };
                let mut stored: StoredConnection = decode(&current)?;
                // Millisecond precision, as in DynamoDB.
                let held =
                    stored.refresh_lease_until.is_some_and(|lease| lease.as_millisecond() > now.as_millisecond());
                if stored.version != version || held {
                    return Ok(false);
                }
                stored.refresh_lease_until = Timestamp::from_millisecond(until.as_millisecond()).ok();
                let bytes = serde_json::to_vec(&stored).map_err(unavailable)?;
                table.insert(id.as_str(), bytes.as_slice()).map_err(unavailable)?;
            }
            txn.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }
}

#[derive(Serialize, Deserialize)]
struct StoredConnection {
    tenant_id: String,
    user_id: String,
    /// Absent in files written before providers were stored: those were all Google's.
    #[serde(default = "google")]
    provider: String,
    version: u64,
    status: String,
    account_id: String,
    email: Option<String>,
    scopes: Vec<String>,
    connected_at: Timestamp,
    updated_at: Timestamp,
    last_error: Option<String>,
    access_token_expires_at: Option<Timestamp>,
    #[serde(default)]
    selected_calendar_id: Option<String>,
    #[serde(default)]
    refresh_lease_until: Option<Timestamp>,
    tokens: StoredSealed,
}

impl StoredConnection {
    fn from_record(r: &ConnectionRecord) -> Self {
        Self {
            tenant_id: r.key.tenant.to_string(),
            user_id: r.key.user.to_string(),
            provider: r.key.provider.as_str().to_owned(),
            version: r.version,
            status: r.status.as_str().to_owned(),
            account_id: r.account_id.clone(),
            email: r.email.clone(),
            scopes: r.scopes.clone(),
            connected_at: r.connected_at,
            updated_at: r.updated_at,
            last_error: r.last_error.clone(),
            access_token_expires_at: r.access_token_expires_at,
            selected_calendar_id: r.selected_calendar_id.clone(),
            refresh_lease_until: r.refresh_lease_until,
            tokens: StoredSealed::from_sealed(&r.sealed_tokens),
        }
    }

    fn into_record(self) -> Result<ConnectionRecord, StoreError> {
        Ok(ConnectionRecord {
            key: parse_key(&self.tenant_id, &self.user_id, &self.provider)?,
            version: self.version,
            status: ConnectionStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {:?}", self.status)))?,
            account_id: self.account_id,
            email: self.email,
            scopes: self.scopes,
            connected_at: self.connected_at,
            updated_at: self.updated_at,
            last_error: self.last_error,
            access_token_expires_at: self.access_token_expires_at,
            selected_calendar_id: self.selected_calendar_id,
            refresh_lease_until: self.refresh_lease_until,
            sealed_tokens: self.tokens.into_sealed()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SealedSecret;

    #[tokio::test]
    async fn survives_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("calbridge-store-{}", crate::crypto::random::token()));
        let path = dir.join("calbridge.redb");
        let key = parse_key("t1", "u1", "google").unwrap();
        let record = ConnectionRecord {
            key: key.clone(),
            version: 1,
            status: ConnectionStatus::Connected,
            account_id: "1001".into(),
            email: Some("a@example.com".into()),
            scopes: vec!["openid".into()],
            connected_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
            last_error: None,
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
