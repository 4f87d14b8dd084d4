//! The store contract against the offline backend: the embedded store with the local key.
//! Runs with no emulator and no network, on every `cargo test`.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use calbridge::adapters::embedded_store::EmbeddedStore;
use calbridge::adapters::local_key::LocalKeyProvider;
use calbridge::domain::ConnectionKey;

use common::store_contract::{RawConnection, StoreUnderTest, store_contract_tests};

struct EmbeddedRaw(Arc<EmbeddedStore>);

#[async_trait]
impl RawConnection for EmbeddedRaw {
    async fn raw_connection(&self, key: &ConnectionKey) -> Option<Vec<u8>> {
        self.0.raw_connection_json(key).map(String::into_bytes)
    }
}

async fn setup() -> StoreUnderTest {
    let store = Arc::new(EmbeddedStore::in_memory());
    StoreUnderTest {
        connections: store.clone(),
        flows: store.clone(),
        syncs: store.clone(),
        meetings: store.clone(),
        budget: store.clone(),
        booking_links: store.clone(),
        sends: store.clone(),
        keys: Arc::new(LocalKeyProvider::new(calbridge::crypto::random::bytes::<32>())),
        raw: Arc::new(EmbeddedRaw(store)),
    }
}

store_contract_tests!(setup);

/// The file-backed store (the local stack's) keeps what it was given across a restart.
#[tokio::test]
async fn file_store_keeps_connections_across_a_reopen() {
    use calbridge::ports::{ConnectionStore, WriteCondition};

    let dir = std::env::temp_dir().join(format!("calbridge-store-test-{}", calbridge::crypto::random::token()));
    let path = dir.join("store.redb");
    let record = common::store_contract::full_record(common::store_contract::key("t1", "u1"));
    {
        let store = EmbeddedStore::open(&path).unwrap();
        store.put_connection(&record, WriteCondition::Absent).await.unwrap();
    }
    let reopened = EmbeddedStore::open(&path).unwrap();
    assert_eq!(reopened.get_connection(&record.key).await.unwrap(), Some(record));
    drop(reopened);
    std::fs::remove_dir_all(&dir).unwrap();
}
