//! The offline twin of the DynamoDB store: one redb file (or memory, for tests).
//!
//! It implements the same ports with the same semantics, and the same contract tests run
//! against both: conditional connection writes on `version`, and flow records taken
//! atomically exactly once. Every operation is one redb write or read transaction, which
//! serialises writers, so "check the condition, then write" is atomic as a DynamoDB
//! condition expression is. Records are stored as JSON with their sealed parts in base64;
//! nothing secret is stored unsealed. redb is synchronous, so calls run on the blocking pool.
//!
//! One file per record family (`connections.rs`, `flows.rs`, `syncs.rs`, `meetings.rs`), each
//! with its redb table, its key and its trait; the transaction helpers are here.

mod connections;
mod flows;
mod meetings;
mod syncs;

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::domain::{ConnectionKey, Provider, TenantId, UserId};
use crate::ports::{SealedSecret, StoreError, WriteCondition};
use connections::{CONNECTIONS, connection_key};
use flows::FLOWS;
use meetings::MEETINGS;
use syncs::SYNCS;

/// The redb tables: one per record family, string keys, JSON values.
type Table = TableDefinition<'static, &'static str, &'static [u8]>;

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(unavailable)?;
        }
        Self::init(Database::create(path).map_err(unavailable)?)
    }

    /// A store that lives in memory only: the fake used by handler and use-case tests.
    pub fn in_memory() -> Self {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database always opens");
        Self::init(db).expect("an in-memory database always initialises")
    }

    fn init(db: Database) -> Result<Self, StoreError> {
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(CONNECTIONS).map_err(unavailable)?;
        txn.open_table(FLOWS).map_err(unavailable)?;
        txn.open_table(SYNCS).map_err(unavailable)?;
        txn.open_table(MEETINGS).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// The stored bytes of a connection, as text: lets tests prove no plaintext token is stored.
    pub fn raw_connection_json(&self, key: &ConnectionKey) -> Option<String> {
        let txn = self.db.begin_read().ok()?;
        let table = txn.open_table(CONNECTIONS).ok()?;
        let value = table.get(connection_key(key).as_str()).ok()??;
        Some(String::from_utf8_lossy(value.value()).into_owned())
    }

    /// Reads and decodes one stored value.
    async fn read<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: String,
    ) -> Result<Option<T>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(table).map_err(unavailable)?;
            let Some(value) = table.get(key.as_str()).map_err(unavailable)? else {
                return Ok(None);
            };
            decode::<T>(value.value()).map(Some)
        })
        .await
    }

    /// Writes `bytes` if `condition` holds on the stored value's counter (read by `counter`):
    /// check and write in one write transaction, as a DynamoDB condition expression.
    async fn write_if<T: serde::de::DeserializeOwned + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: String,
        bytes: Vec<u8>,
        condition: WriteCondition,
        counter: fn(&T) -> u64,
    ) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(table).map_err(unavailable)?;
                let current = match table.get(key.as_str()).map_err(unavailable)? {
                    Some(value) => Some(counter(&decode::<T>(value.value())?)),
                    None => None,
                };
                let holds = match condition {
                    WriteCondition::Absent => current.is_none(),
                    WriteCondition::Version(expected) => current == Some(expected),
                };
                if !holds {
                    return Err(StoreError::ConditionFailed);
                }
                table.insert(key.as_str(), bytes.as_slice()).map_err(unavailable)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db)).await.map_err(unavailable)?
    }
}

fn unavailable(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Unavailable(e.into())
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The sealed parts as stored: base64 text.
#[derive(Serialize, Deserialize)]
struct StoredSealed {
    ciphertext: String,
    nonce: String,
    encrypted_data_key: String,
    key_id: String,
}

impl StoredSealed {
    fn from_sealed(sealed: &SealedSecret) -> Self {
        Self {
            ciphertext: B64.encode(&sealed.ciphertext),
            nonce: B64.encode(sealed.nonce),
            encrypted_data_key: B64.encode(&sealed.encrypted_data_key),
            key_id: sealed.key_id.clone(),
        }
    }

    fn into_sealed(self) -> Result<SealedSecret, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("sealed {what}"));
        Ok(SealedSecret {
            ciphertext: B64.decode(self.ciphertext).map_err(|_| corrupt("ciphertext"))?,
            nonce: B64.decode(self.nonce).ok().and_then(|n| n.try_into().ok()).ok_or_else(|| corrupt("nonce"))?,
            encrypted_data_key: B64.decode(self.encrypted_data_key).map_err(|_| corrupt("data key"))?,
            key_id: self.key_id,
        })
    }
}

fn parse_key(tenant: &str, user: &str, provider: &str) -> Result<ConnectionKey, StoreError> {
    Ok(ConnectionKey::new(
        TenantId::parse(tenant).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        UserId::parse(user).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        Provider::parse(provider).map_err(|_| StoreError::Corrupt(format!("provider {provider:?}")))?,
    ))
}

fn google() -> String {
    Provider::Google.as_str().to_owned()
}
