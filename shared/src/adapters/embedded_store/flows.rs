//! Flow steps in the `flows` table, keyed `{kind}#{id_hash}`.
//! Contract: created only where none exists; taken (removed and returned) in one write
//! transaction, so exactly once.

use async_trait::async_trait;
use jiff::Timestamp;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::{EmbeddedStore, StoredSealed, Table, decode, google, parse_key, unavailable};
use crate::ports::{FlowKind, FlowRecord, FlowStore, StoreError};

pub(super) const FLOWS: Table = Table::new("flows");

fn flow_key(kind: FlowKind, id_hash: &str) -> String {
    format!("{}#{id_hash}", kind.as_str())
}

#[async_trait]
impl FlowStore for EmbeddedStore {
    async fn put_flow(&self, record: &FlowRecord) -> Result<(), StoreError> {
        let id = flow_key(record.kind, &record.id_hash);
        let bytes = serde_json::to_vec(&StoredFlow::from_record(record)).map_err(unavailable)?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(FLOWS).map_err(unavailable)?;
                // Ids are 256-bit random, so a clash means a bug: refuse rather than overwrite,
                // as the DynamoDB store does.
                if table.get(id.as_str()).map_err(unavailable)?.is_some() {
                    return Err(StoreError::ConditionFailed);
                }
                table.insert(id.as_str(), bytes.as_slice()).map_err(unavailable)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn take_flow(&self, kind: FlowKind, id_hash: &str) -> Result<Option<FlowRecord>, StoreError> {
        let id = flow_key(kind, id_hash);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let taken = {
                let mut table = txn.open_table(FLOWS).map_err(unavailable)?;
                let removed = table.remove(id.as_str()).map_err(unavailable)?;
                match removed {
                    Some(value) => Some(decode::<StoredFlow>(value.value())?),
                    None => None,
                }
            };
            txn.commit().map_err(unavailable)?;
            taken.map(|flow| flow.into_record(kind)).transpose()
        })
        .await
    }
}

#[derive(Serialize, Deserialize)]
struct StoredFlow {
    id_hash: String,
    tenant_id: String,
    user_id: String,
    #[serde(default = "google")]
    provider: String,
    return_to: String,
    login_hint: Option<String>,
    browser_binding_hash: Option<String>,
    pkce_verifier: Option<StoredSealed>,
    expires_at: Timestamp,
}

impl StoredFlow {
    fn from_record(r: &FlowRecord) -> Self {
        Self {
            id_hash: r.id_hash.clone(),
            tenant_id: r.owner.tenant.to_string(),
            user_id: r.owner.user.to_string(),
            provider: r.owner.provider.as_str().to_owned(),
            return_to: r.return_to.clone(),
            login_hint: r.login_hint.clone(),
            browser_binding_hash: r.browser_binding_hash.clone(),
            pkce_verifier: r.sealed_pkce_verifier.as_ref().map(StoredSealed::from_sealed),
            expires_at: r.expires_at,
        }
    }

    fn into_record(self, kind: FlowKind) -> Result<FlowRecord, StoreError> {
        Ok(FlowRecord {
            kind,
            id_hash: self.id_hash,
            owner: parse_key(&self.tenant_id, &self.user_id, &self.provider)?,
            return_to: self.return_to,
            login_hint: self.login_hint,
            browser_binding_hash: self.browser_binding_hash,
            sealed_pkce_verifier: self.pkce_verifier.map(StoredSealed::into_sealed).transpose()?,
            expires_at: self.expires_at,
        })
    }
}
