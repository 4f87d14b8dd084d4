//! The offline twin of the DynamoDB store: one redb file (or memory, for tests).
//!
//! It implements the same ports with the same semantics, and the same contract tests run
//! against both: conditional connection writes on `version`, and flow records taken
//! atomically exactly once. Every operation is one redb write or read transaction, which
//! serialises writers, so "check the condition, then write" is atomic as a DynamoDB
//! condition expression is. Records are stored as JSON with their sealed parts in base64;
//! nothing secret is stored unsealed. redb is synchronous, so calls run on the blocking pool.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::Timestamp;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::domain::{AppointmentId, ConnectionKey, Provider, SessionId, TenantId, UserId};
use crate::ports::{
    ConnectionRecord, ConnectionStatus, ConnectionStore, FlowKind, FlowRecord, FlowStore, MeetingRecord, MeetingState,
    MeetingStore, SealedSecret, StoreError, SyncRecord, SyncStatus, SyncStore, WriteCondition,
};

const CONNECTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("connections");
const FLOWS: TableDefinition<&str, &[u8]> = TableDefinition::new("flows");
const SYNCS: TableDefinition<&str, &[u8]> = TableDefinition::new("syncs");
const MEETINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("meetings");

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

fn connection_key(key: &ConnectionKey) -> String {
    format!("T#{}#U#{}#{}", key.tenant, key.user, key.provider.as_str())
}

fn flow_key(kind: FlowKind, id_hash: &str) -> String {
    format!("{}#{id_hash}", kind.as_str())
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

fn sync_key(tenant: &TenantId, appointment_id: &AppointmentId) -> String {
    format!("T#{tenant}#A#{appointment_id}")
}

#[async_trait]
impl SyncStore for EmbeddedStore {
    async fn get_sync(
        &self,
        tenant: &TenantId,
        appointment_id: &AppointmentId,
    ) -> Result<Option<SyncRecord>, StoreError> {
        self.read::<StoredSync>(SYNCS, sync_key(tenant, appointment_id)).await?.map(StoredSync::into_record).transpose()
    }

    async fn put_sync(&self, record: &SyncRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&StoredSync::from_record(record)).map_err(unavailable)?;
        let key = sync_key(&record.tenant, &record.appointment_id);
        self.write_if(SYNCS, key, bytes, condition, |r: &StoredSync| r.revision).await
    }
}

#[derive(Serialize, Deserialize)]
struct StoredSync {
    tenant_id: String,
    appointment_id: String,
    revision: u64,
    version: u64,
    user_id: String,
    calendar_id: Option<String>,
    google_event_id: String,
    status: String,
    last_synced_at: Option<Timestamp>,
    error: Option<String>,
    attempts: u32,
    lease_until: Option<Timestamp>,
}

impl StoredSync {
    fn from_record(r: &SyncRecord) -> Self {
        Self {
            tenant_id: r.tenant.to_string(),
            appointment_id: r.appointment_id.to_string(),
            revision: r.revision,
            version: r.version,
            user_id: r.user_id.to_string(),
            calendar_id: r.calendar_id.clone(),
            google_event_id: r.google_event_id.clone(),
            status: r.status.as_str().to_owned(),
            last_synced_at: r.last_synced_at,
            error: r.error.clone(),
            attempts: r.attempts,
            lease_until: r.lease_until,
        }
    }

    fn into_record(self) -> Result<SyncRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(what.to_owned());
        Ok(SyncRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(|_| corrupt("tenant_id"))?,
            appointment_id: AppointmentId::parse(&self.appointment_id).map_err(|_| corrupt("appointment_id"))?,
            revision: self.revision,
            version: self.version,
            user_id: UserId::parse(&self.user_id).map_err(|_| corrupt("user_id"))?,
            calendar_id: self.calendar_id,
            google_event_id: self.google_event_id,
            status: SyncStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            last_synced_at: self.last_synced_at,
            error: self.error,
            attempts: self.attempts,
            lease_until: self.lease_until,
        })
    }
}

fn meeting_key(tenant: &TenantId, session_id: &SessionId) -> String {
    format!("T#{tenant}#S#{session_id}")
}

#[async_trait]
impl MeetingStore for EmbeddedStore {
    async fn get_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
    ) -> Result<Option<MeetingRecord>, StoreError> {
        self.read::<StoredMeeting>(MEETINGS, meeting_key(tenant, session_id))
            .await?
            .map(StoredMeeting::into_record)
            .transpose()
    }

    async fn put_meeting(&self, record: &MeetingRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&StoredMeeting::from_record(record)).map_err(unavailable)?;
        let key = meeting_key(&record.tenant, &record.session_id);
        self.write_if(MEETINGS, key, bytes, condition, |m: &StoredMeeting| m.revision).await
    }

    async fn delete_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        revision: u64,
    ) -> Result<bool, StoreError> {
        let id = meeting_key(tenant, session_id);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let deleted = {
                let mut table = txn.open_table(MEETINGS).map_err(unavailable)?;
                let current = match table.get(id.as_str()).map_err(unavailable)? {
                    Some(value) => Some(decode::<StoredMeeting>(value.value())?.revision),
                    None => None,
                };
                if current == Some(revision) {
                    table.remove(id.as_str()).map_err(unavailable)?;
                    true
                } else {
                    false
                }
            };
            txn.commit().map_err(unavailable)?;
            Ok(deleted)
        })
        .await
    }
}

#[derive(Serialize, Deserialize)]
struct StoredMeeting {
    tenant_id: String,
    session_id: String,
    revision: u64,
    /// `None` when ready; the creator's lease otherwise.
    creating_until: Option<Timestamp>,
    host_user_id: String,
    participant_user_ids: Vec<String>,
    provider: String,
    meeting_url: Option<String>,
    conference_id: Option<String>,
    calendar_event_id: Option<String>,
    calendar_id: Option<String>,
    request_id: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl StoredMeeting {
    fn from_record(r: &MeetingRecord) -> Self {
        Self {
            tenant_id: r.tenant.to_string(),
            session_id: r.session_id.to_string(),
            revision: r.revision,
            creating_until: match r.state {
                MeetingState::Creating { lease_until } => Some(lease_until),
                MeetingState::Ready => None,
            },
            host_user_id: r.host_user_id.to_string(),
            participant_user_ids: r.participant_user_ids.iter().map(ToString::to_string).collect(),
            provider: r.provider.clone(),
            meeting_url: r.meeting_url.clone(),
            conference_id: r.conference_id.clone(),
            calendar_event_id: r.calendar_event_id.clone(),
            calendar_id: r.calendar_id.clone(),
            request_id: r.request_id.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn into_record(self) -> Result<MeetingRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(what.to_owned());
        Ok(MeetingRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(|_| corrupt("tenant_id"))?,
            session_id: SessionId::parse(&self.session_id).map_err(|_| corrupt("session_id"))?,
            revision: self.revision,
            state: match self.creating_until {
                Some(lease_until) => MeetingState::Creating { lease_until },
                None => MeetingState::Ready,
            },
            host_user_id: UserId::parse(&self.host_user_id).map_err(|_| corrupt("host_user_id"))?,
            participant_user_ids: self
                .participant_user_ids
                .iter()
                .map(|u| UserId::parse(u).map_err(|_| corrupt("participant_user_ids")))
                .collect::<Result<_, _>>()?,
            provider: self.provider,
            meeting_url: self.meeting_url,
            conference_id: self.conference_id,
            calendar_event_id: self.calendar_event_id,
            calendar_id: self.calendar_id,
            request_id: self.request_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
