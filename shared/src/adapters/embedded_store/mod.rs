//! The offline twin of the DynamoDB store: one redb file (or memory, for tests).
//!
//! It implements the same ports with the same semantics, and the same contract tests run
//! against both: writes conditional on the record's counter, flow records taken atomically
//! exactly once. Every operation is one redb read or write transaction, and redb serialises
//! writers, so "check the condition, then write" is atomic as a DynamoDB condition expression
//! is. Each record is kept in its stored form (see `stored_forms`) as JSON, sealed parts in
//! base64 (`json.rs`); nothing secret is stored unsealed. redb is synchronous, so calls run on
//! the blocking pool.
//!
//! One file per record family (`connections.rs`, `flows.rs`, `syncs.rs`, `meetings.rs`,
//! `budgets.rs`, `booking_links.rs`, `sends.rs`), each with its redb table, its key and its trait; files written before the shared stored forms are
//! read through `legacy.rs`.

mod booking_links;
mod budgets;
mod connections;
mod flows;
mod json;
mod legacy;
mod meetings;
mod sends;
mod syncs;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};

use crate::domain::ConnectionKey;
use crate::ports::{StoreError, WriteCondition};
use booking_links::BOOKING_LINKS;
use budgets::BUDGETS;
use connections::{CONNECTIONS, connection_key};
use flows::{FLOWS, WEBHOOK_DELIVERIES};
use json::{EmbeddedForm, decode, encode};
use meetings::MEETINGS;
use sends::SENDS;
use syncs::{PENDING, SYNCS};

/// The redb tables: one per record family, string keys, JSON values.
type Table = TableDefinition<'static, &'static str, &'static [u8]>;

/// One table opened in a write transaction.
type WriteTable<'txn> = redb::Table<'txn, &'static str, &'static [u8]>;

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
        for table in [CONNECTIONS, FLOWS, WEBHOOK_DELIVERIES, SYNCS, PENDING, MEETINGS, BUDGETS, BOOKING_LINKS, SENDS] {
            txn.open_table(table).map_err(unavailable)?;
        }
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

    /// Reads and decodes one stored form.
    async fn read<F: EmbeddedForm + Send + 'static>(&self, table: Table, key: String) -> Result<Option<F>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(table).map_err(unavailable)?;
            let Some(value) = table.get(key.as_str()).map_err(unavailable)? else {
                return Ok(None);
            };
            decode::<F>(value.value()).map(Some)
        })
        .await
    }

    /// Runs `work` on `table` in one write transaction, committed only when `work` succeeds.
    async fn write<T: Send + 'static>(
        &self,
        table: Table,
        work: impl FnOnce(&mut WriteTable<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let done = work(&mut txn.open_table(table).map_err(unavailable)?)?;
            txn.commit().map_err(unavailable)?;
            Ok(done)
        })
        .await
    }

    /// Writes `form` under `key` if `condition` holds on the stored form's counter (read by
    /// `counter`), as a DynamoDB condition expression would.
    async fn write_if<F: EmbeddedForm + 'static>(
        &self,
        table: Table,
        key: String,
        form: &F,
        condition: WriteCondition,
        counter: fn(&F) -> u64,
    ) -> Result<(), StoreError> {
        let bytes = encode(form)?;
        self.write(table, move |table| {
            let current = match table.get(key.as_str()).map_err(unavailable)? {
                Some(value) => Some(counter(&decode::<F>(value.value())?)),
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
            Ok(())
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
