//! The production [`ConnectionStore`] and [`FlowStore`]: one DynamoDB table.
//!
//! Layout (the SAM template, the local stack and operators rely on it):
//!
//! | record     | `pk`                        | `sk`               |
//! |------------|-----------------------------|--------------------|
//! | connection | `T#{tenant}#U#{user}`       | `CONN#{provider}`  |
//! | flow step  | `FLOW#{kind}#{id_hash}`     | `FLOW`             |
//!
//! Sealed secrets are four attributes under one prefix (`{p}_ct`, `{p}_nonce`, `{p}_edk` as
//! binary, `{p}_key_id` as string); timestamps are RFC 3339 strings; flow items carry `ttl`
//! (epoch seconds) so DynamoDB reaps abandoned consents.
//!
//! Contract: connection writes are conditional (`attribute_not_exists(pk)` to create,
//! `version = :v` to replace, which is false for a deleted item, so a late writer cannot
//! resurrect a disconnected user); reads are strongly consistent; a flow is taken by a
//! conditional `DeleteItem` returning the old item, so of concurrent takers exactly one gets it.
//! A failed condition is [`StoreError::ConditionFailed`], an item that does not parse is
//! [`StoreError::Corrupt`] naming the attribute, anything else is [`StoreError::Unavailable`].

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue, ScalarAttributeType,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use jiff::Timestamp;

use crate::domain::{AppointmentId, ConnectionKey, Provider, SessionId, TenantId, UserId};
use crate::ports::{
    ConnectionRecord, ConnectionStatus, ConnectionStore, FlowKind, FlowRecord, FlowStore, MeetingRecord, MeetingState,
    MeetingStore, SealedSecret, StoreError, SyncRecord, SyncStatus, SyncStore, WriteCondition,
};

/// The TTL attribute; also named in the SAM template.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// How long [`create_table`] waits for a new table to become active.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

type Item = HashMap<String, AttributeValue>;

pub struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl std::fmt::Debug for DynamoDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbStore").field("table", &self.table).finish_non_exhaustive()
    }
}

/// Creates the calbridge table (on-demand, `pk`/`sk` strings, TTL on `ttl`) for tests and the
/// local stack; production tables come from the SAM template. An existing table is fine.
#[tracing::instrument(skip_all, fields(table = %table))]
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), StoreError> {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(unavailable)
    };
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(unavailable)
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute("pk")?)
        .attribute_definitions(string_attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => return Err(sdk_unavailable("CreateTable", err)),
    }
    // An existing table may still be CREATING (another process created it a moment ago).
    client.wait_until_table_exists().table_name(table).wait(TABLE_ACTIVE_TIMEOUT).await.map_err(|err| {
        tracing::warn!(error = %DisplayErrorContext(&err), "table did not become active");
        unavailable(err)
    })?;

    // UpdateTimeToLive fails when TTL is already enabled, so ask first.
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|err| sdk_unavailable("DescribeTimeToLive", err))?;
    let status = ttl.time_to_live_description().and_then(|d| d.time_to_live_status());
    if !matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)) {
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .map_err(unavailable)?,
            )
            .send()
            .await
            .map_err(|err| sdk_unavailable("UpdateTimeToLive", err))?;
    }
    Ok(())
}

impl DynamoDbStore {
    /// A strongly consistent read of one item.
    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_unavailable("GetItem", err))?;
        Ok(output.item.filter(|item| !item.is_empty()))
    }

    /// Puts `item` if `condition` holds on its `counter` attribute (`version` or `revision`).
    async fn put_item_if(&self, item: Item, condition: WriteCondition, counter: &str) -> Result<(), StoreError> {
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let request = match condition {
            WriteCondition::Absent => request.condition_expression("attribute_not_exists(pk)"),
            WriteCondition::Version(expected) => request
                .condition_expression("#counter = :expected")
                .expression_attribute_names("#counter", counter)
                .expression_attribute_values(":expected", number(expected)),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::ConditionFailed)
            }
            Err(err) => Err(sdk_unavailable("PutItem", err)),
        }
    }
}

#[async_trait]
impl ConnectionStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn get_connection(&self, key: &ConnectionKey) -> Result<Option<ConnectionRecord>, StoreError> {
        let (pk, sk) = connection_key(key);
        self.get_item(pk, &sk).await?.map(|item| connection_from_item(key, &item)).transpose()
    }

    #[tracing::instrument(
        skip_all,
        fields(table = %self.table, tenant = %record.key.tenant, user = %record.key.user, version = record.version)
    )]
    async fn put_connection(&self, record: &ConnectionRecord, condition: WriteCondition) -> Result<(), StoreError> {
        self.put_item_if(connection_to_item(record), condition, "version").await
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn delete_connection(&self, key: &ConnectionKey) -> Result<bool, StoreError> {
        let (pk, sk) = connection_key(key);
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            // The old item tells whether there was one; it is dropped unread.
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|err| sdk_unavailable("DeleteItem", err))?;
        Ok(output.attributes.is_some_and(|item| !item.is_empty()))
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user, version))]
    async fn acquire_refresh_lease(
        &self,
        key: &ConnectionKey,
        version: u64,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = connection_key(key);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression("SET #lease = :until")
            .condition_expression("#version = :version AND (attribute_not_exists(#lease) OR #lease <= :now)")
            .expression_attribute_names("#lease", "refresh_lease_until")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":until", epoch_millis(until))
            .expression_attribute_values(":now", epoch_millis(now))
            .expression_attribute_values(":version", number(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(sdk_unavailable("UpdateItem", err)),
        }
    }
}

#[async_trait]
impl FlowStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, kind = record.kind.as_str()))]
    async fn put_flow(&self, record: &FlowRecord) -> Result<(), StoreError> {
        // Ids are hashes of 256 random bits, so a collision means a bug: never overwrite a
        // pending step someone else may be about to spend.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(flow_to_item(record)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::ConditionFailed)
            }
            Err(err) => Err(sdk_unavailable("PutItem", err)),
        }
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, kind = kind.as_str()))]
    async fn take_flow(&self, kind: FlowKind, id_hash: &str) -> Result<Option<FlowRecord>, StoreError> {
        // A conditional delete is the atomic "take": DynamoDB serialises writes to one item, so
        // only one caller's condition sees the item.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(flow_pk(kind, id_hash)))
            .key("sk", AttributeValue::S(FLOW_SK.to_owned()))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) if !item.is_empty() => flow_from_item(kind, id_hash, &item).map(Some),
                _ => Err(StoreError::Corrupt("DeleteItem returned no old item".to_owned())),
            },
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(err) => Err(sdk_unavailable("DeleteItem", err)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

const FLOW_SK: &str = "FLOW";

fn connection_key(key: &ConnectionKey) -> (String, String) {
    (format!("T#{}#U#{}", key.tenant, key.user), format!("CONN#{}", key.provider.as_str()))
}

fn flow_pk(kind: FlowKind, id_hash: &str) -> String {
    format!("FLOW#{}#{}", kind.as_str(), id_hash)
}

// ---------------------------------------------------------------------------------------------
// Record -> item

fn connection_to_item(record: &ConnectionRecord) -> Item {
    let (pk, sk) = connection_key(&record.key);
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(pk));
    item.insert("sk".into(), AttributeValue::S(sk));
    put_owner(&mut item, &record.key);
    item.insert("version".into(), number(record.version));
    item.insert("status".into(), AttributeValue::S(record.status.as_str().to_owned()));
    item.insert("account_id".into(), AttributeValue::S(record.account_id.clone()));
    put_optional_string(&mut item, "email", record.email.as_deref());
    item.insert("scopes".into(), AttributeValue::L(record.scopes.iter().cloned().map(AttributeValue::S).collect()));
    item.insert("connected_at".into(), timestamp(record.connected_at));
    item.insert("updated_at".into(), timestamp(record.updated_at));
    put_optional_string(&mut item, "last_error", record.last_error.as_deref());
    if let Some(at) = record.access_token_expires_at {
        item.insert("access_token_expires_at".into(), timestamp(at));
    }
    put_optional_string(&mut item, "selected_calendar_id", record.selected_calendar_id.as_deref());
    if let Some(until) = record.refresh_lease_until {
        item.insert("refresh_lease_until".into(), epoch_millis(until));
    }
    put_sealed(&mut item, "tokens", &record.sealed_tokens);
    item
}

fn flow_to_item(record: &FlowRecord) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(flow_pk(record.kind, &record.id_hash)));
    item.insert("sk".into(), AttributeValue::S(FLOW_SK.to_owned()));
    put_owner(&mut item, &record.owner);
    item.insert("return_to".into(), AttributeValue::S(record.return_to.clone()));
    put_optional_string(&mut item, "login_hint", record.login_hint.as_deref());
    put_optional_string(&mut item, "browser_binding_hash", record.browser_binding_hash.as_deref());
    if let Some(sealed) = &record.sealed_pkce_verifier {
        put_sealed(&mut item, "verifier", sealed);
    }
    item.insert("expires_at".into(), timestamp(record.expires_at));
    item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(record.expires_at.as_second().to_string()));
    item
}

fn put_owner(item: &mut Item, key: &ConnectionKey) {
    item.insert("tenant_id".into(), AttributeValue::S(key.tenant.as_str().to_owned()));
    item.insert("user_id".into(), AttributeValue::S(key.user.as_str().to_owned()));
    item.insert("provider".into(), AttributeValue::S(key.provider.as_str().to_owned()));
}

/// The one place a [`SealedSecret`] becomes attributes: `{prefix}_ct`, `_nonce`, `_edk`, `_key_id`.
fn put_sealed(item: &mut Item, prefix: &str, sealed: &SealedSecret) {
    item.insert(format!("{prefix}_ct"), AttributeValue::B(Blob::new(sealed.ciphertext.clone())));
    item.insert(format!("{prefix}_nonce"), AttributeValue::B(Blob::new(sealed.nonce.to_vec())));
    item.insert(format!("{prefix}_edk"), AttributeValue::B(Blob::new(sealed.encrypted_data_key.clone())));
    item.insert(format!("{prefix}_key_id"), AttributeValue::S(sealed.key_id.clone()));
}

fn put_optional_string(item: &mut Item, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), AttributeValue::S(value.to_owned()));
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn timestamp(value: Timestamp) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// Lease times are numbers, not RFC 3339 strings, because condition expressions compare them
/// and RFC 3339 text with variable fractional digits does not sort.
fn epoch_millis(value: Timestamp) -> AttributeValue {
    AttributeValue::N(value.as_millisecond().to_string())
}

// ---------------------------------------------------------------------------------------------
// Item -> record

fn connection_from_item(key: &ConnectionKey, item: &Item) -> Result<ConnectionRecord, StoreError> {
    let item = Attributes(item);
    let stored_key = item.owner()?;
    if &stored_key != key {
        // The item's own fields must agree with the key it was found under.
        return Err(StoreError::Corrupt("tenant_id/user_id/provider disagree with pk/sk".to_owned()));
    }
    let status = item.string("status")?;
    Ok(ConnectionRecord {
        key: stored_key,
        version: item.number("version")?,
        status: ConnectionStatus::parse(status).ok_or_else(|| corrupt("status"))?,
        // Items written before providers were neutral name it `google_account_id`.
        account_id: item.string("account_id").or_else(|_| item.string("google_account_id"))?.to_owned(),
        email: item.optional_string("email")?,
        scopes: item.string_list("scopes")?,
        connected_at: item.timestamp("connected_at")?,
        updated_at: item.timestamp("updated_at")?,
        last_error: item.optional_string("last_error")?,
        access_token_expires_at: item.optional_timestamp("access_token_expires_at")?,
        selected_calendar_id: item.optional_string("selected_calendar_id")?,
        refresh_lease_until: match item.0.get("refresh_lease_until") {
            None => None,
            Some(AttributeValue::N(ms)) => Some(
                ms.parse()
                    .ok()
                    .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                    .ok_or_else(|| corrupt("refresh_lease_until"))?,
            ),
            Some(_) => return Err(corrupt("refresh_lease_until")),
        },
        sealed_tokens: item.sealed("tokens")?,
    })
}

fn flow_from_item(kind: FlowKind, id_hash: &str, item: &Item) -> Result<FlowRecord, StoreError> {
    let item = Attributes(item);
    let sealed_pkce_verifier = if item.0.contains_key("verifier_ct") { Some(item.sealed("verifier")?) } else { None };
    Ok(FlowRecord {
        kind,
        id_hash: id_hash.to_owned(),
        owner: item.owner()?,
        return_to: item.string("return_to")?.to_owned(),
        login_hint: item.optional_string("login_hint")?,
        browser_binding_hash: item.optional_string("browser_binding_hash")?,
        sealed_pkce_verifier,
        expires_at: item.timestamp("expires_at")?,
    })
}

/// Typed reads of one item; every failure names the attribute.
struct Attributes<'a>(&'a Item);

impl Attributes<'_> {
    fn string(&self, name: &str) -> Result<&str, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::S(value)) => Ok(value),
            _ => Err(corrupt(name)),
        }
    }

    fn optional_string(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
            Some(_) => Err(corrupt(name)),
        }
    }

    fn number(&self, name: &str) -> Result<u64, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::N(value)) => value.parse().map_err(|_| corrupt(name)),
            _ => Err(corrupt(name)),
        }
    }

    fn blob(&self, name: &str) -> Result<&[u8], StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::B(value)) => Ok(value.as_ref()),
            _ => Err(corrupt(name)),
        }
    }

    fn string_list(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::L(values)) => values
                .iter()
                .map(|value| match value {
                    AttributeValue::S(s) => Ok(s.clone()),
                    _ => Err(corrupt(name)),
                })
                .collect(),
            _ => Err(corrupt(name)),
        }
    }

    fn timestamp(&self, name: &str) -> Result<Timestamp, StoreError> {
        self.string(name)?.parse().map_err(|_| corrupt(name))
    }

    fn optional_timestamp(&self, name: &str) -> Result<Option<Timestamp>, StoreError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(_) => self.timestamp(name).map(Some),
        }
    }

    fn owner(&self) -> Result<ConnectionKey, StoreError> {
        let tenant = TenantId::parse(self.string("tenant_id")?).map_err(|_| corrupt("tenant_id"))?;
        let user = UserId::parse(self.string("user_id")?).map_err(|_| corrupt("user_id"))?;
        let provider = Provider::parse(self.string("provider")?).map_err(|_| corrupt("provider"))?;
        Ok(ConnectionKey { tenant, user, provider })
    }

    /// The inverse of [`put_sealed`].
    fn sealed(&self, prefix: &str) -> Result<SealedSecret, StoreError> {
        let nonce_name = format!("{prefix}_nonce");
        Ok(SealedSecret {
            ciphertext: self.blob(&format!("{prefix}_ct"))?.to_vec(),
            nonce: self.blob(&nonce_name)?.try_into().map_err(|_| corrupt(&nonce_name))?,
            encrypted_data_key: self.blob(&format!("{prefix}_edk"))?.to_vec(),
            key_id: self.string(&format!("{prefix}_key_id"))?.to_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn corrupt(attribute: &str) -> StoreError {
    StoreError::Corrupt(format!("attribute `{attribute}` is missing or has the wrong type"))
}

fn unavailable(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Box::new(err))
}

/// Logs the full SDK error chain (the `Display` of an `SdkError` alone says only "service
/// error") and keeps it as the source.
fn sdk_unavailable<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    tracing::warn!(operation, code = err.code(), error = %DisplayErrorContext(&err), "dynamodb call failed");
    unavailable(err)
}

// ---------------------------------------------------------------------------------------------
// Appointment sync records: pk `T#{tenant}#A#{appointment}`, sk `SYNC`.

const SYNC_SK: &str = "SYNC";

fn sync_pk(tenant: &TenantId, appointment_id: &AppointmentId) -> String {
    format!("T#{tenant}#A#{appointment_id}")
}

fn sync_to_item(record: &SyncRecord) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(sync_pk(&record.tenant, &record.appointment_id)));
    item.insert("sk".into(), AttributeValue::S(SYNC_SK.to_owned()));
    item.insert("tenant_id".into(), AttributeValue::S(record.tenant.to_string()));
    item.insert("appointment_id".into(), AttributeValue::S(record.appointment_id.to_string()));
    item.insert("revision".into(), number(record.revision));
    item.insert("version".into(), number(record.version));
    item.insert("user_id".into(), AttributeValue::S(record.user_id.to_string()));
    put_optional_string(&mut item, "calendar_id", record.calendar_id.as_deref());
    item.insert("google_event_id".into(), AttributeValue::S(record.google_event_id.clone()));
    item.insert("status".into(), AttributeValue::S(record.status.as_str().to_owned()));
    if let Some(at) = record.last_synced_at {
        item.insert("last_synced_at".into(), timestamp(at));
    }
    put_optional_string(&mut item, "error", record.error.as_deref());
    item.insert("attempts".into(), number(u64::from(record.attempts)));
    if let Some(until) = record.lease_until {
        item.insert("lease_until".into(), epoch_millis(until));
    }
    item
}

fn sync_from_item(item: &Item) -> Result<SyncRecord, StoreError> {
    let item = Attributes(item);
    let lease_until = match item.0.get("lease_until") {
        None => None,
        Some(AttributeValue::N(ms)) => Some(
            ms.parse()
                .ok()
                .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                .ok_or_else(|| corrupt("lease_until"))?,
        ),
        Some(_) => return Err(corrupt("lease_until")),
    };
    Ok(SyncRecord {
        tenant: TenantId::parse(item.string("tenant_id")?).map_err(|_| corrupt("tenant_id"))?,
        appointment_id: AppointmentId::parse(item.string("appointment_id")?).map_err(|_| corrupt("appointment_id"))?,
        revision: item.number("revision")?,
        version: item.number("version")?,
        user_id: UserId::parse(item.string("user_id")?).map_err(|_| corrupt("user_id"))?,
        calendar_id: item.optional_string("calendar_id")?,
        google_event_id: item.string("google_event_id")?.to_owned(),
        status: SyncStatus::parse(item.string("status")?).ok_or_else(|| corrupt("status"))?,
        last_synced_at: item.optional_timestamp("last_synced_at")?,
        error: item.optional_string("error")?,
        attempts: u32::try_from(item.number("attempts")?).map_err(|_| corrupt("attempts"))?,
        lease_until,
    })
}

#[async_trait]
impl SyncStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn get_sync(
        &self,
        tenant: &TenantId,
        appointment_id: &AppointmentId,
    ) -> Result<Option<SyncRecord>, StoreError> {
        self.get_item(sync_pk(tenant, appointment_id), SYNC_SK).await?.map(|item| sync_from_item(&item)).transpose()
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %record.tenant, revision = record.revision))]
    async fn put_sync(&self, record: &SyncRecord, condition: WriteCondition) -> Result<(), StoreError> {
        self.put_item_if(sync_to_item(record), condition, "revision").await
    }
}

// ---------------------------------------------------------------------------------------------
// Session meetings: pk `T#{tenant}#S#{session}`, sk `MEET`.

const MEETING_SK: &str = "MEET";

fn meeting_pk(tenant: &TenantId, session_id: &SessionId) -> String {
    format!("T#{tenant}#S#{session_id}")
}

fn meeting_to_item(record: &MeetingRecord) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(meeting_pk(&record.tenant, &record.session_id)));
    item.insert("sk".into(), AttributeValue::S(MEETING_SK.to_owned()));
    item.insert("tenant_id".into(), AttributeValue::S(record.tenant.to_string()));
    item.insert("session_id".into(), AttributeValue::S(record.session_id.to_string()));
    item.insert("revision".into(), number(record.revision));
    match record.state {
        MeetingState::Ready => {
            item.insert("state".into(), AttributeValue::S("ready".into()));
        }
        MeetingState::Creating { lease_until } => {
            item.insert("state".into(), AttributeValue::S("creating".into()));
            item.insert("lease_until".into(), epoch_millis(lease_until));
        }
    }
    item.insert("host_user_id".into(), AttributeValue::S(record.host_user_id.to_string()));
    item.insert(
        "participant_user_ids".into(),
        AttributeValue::L(record.participant_user_ids.iter().map(|u| AttributeValue::S(u.to_string())).collect()),
    );
    item.insert("provider".into(), AttributeValue::S(record.provider.clone()));
    put_optional_string(&mut item, "meeting_url", record.meeting_url.as_deref());
    put_optional_string(&mut item, "conference_id", record.conference_id.as_deref());
    put_optional_string(&mut item, "calendar_event_id", record.calendar_event_id.as_deref());
    put_optional_string(&mut item, "calendar_id", record.calendar_id.as_deref());
    put_optional_string(&mut item, "request_id", record.request_id.as_deref());
    item.insert("created_at".into(), timestamp(record.created_at));
    item.insert("updated_at".into(), timestamp(record.updated_at));
    item
}

fn meeting_from_item(item: &Item) -> Result<MeetingRecord, StoreError> {
    let item = Attributes(item);
    let state = match item.string("state")? {
        "ready" => MeetingState::Ready,
        "creating" => match item.0.get("lease_until") {
            Some(AttributeValue::N(ms)) => MeetingState::Creating {
                lease_until: ms
                    .parse()
                    .ok()
                    .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                    .ok_or_else(|| corrupt("lease_until"))?,
            },
            _ => return Err(corrupt("lease_until")),
        },
        _ => return Err(corrupt("state")),
    };
    let participants = item
        .string_list("participant_user_ids")?
        .iter()
        .map(|u| UserId::parse(u).map_err(|_| corrupt("participant_user_ids")))
        .collect::<Result<_, _>>()?;
    Ok(MeetingRecord {
        tenant: TenantId::parse(item.string("tenant_id")?).map_err(|_| corrupt("tenant_id"))?,
        session_id: SessionId::parse(item.string("session_id")?).map_err(|_| corrupt("session_id"))?,
        revision: item.number("revision")?,
        state,
        host_user_id: UserId::parse(item.string("host_user_id")?).map_err(|_| corrupt("host_user_id"))?,
        participant_user_ids: participants,
        provider: item.string("provider")?.to_owned(),
        meeting_url: item.optional_string("meeting_url")?,
        conference_id: item.optional_string("conference_id")?,
        calendar_event_id: item.optional_string("calendar_event_id")?,
        calendar_id: item.optional_string("calendar_id")?,
        request_id: item.optional_string("request_id")?,
        created_at: item.timestamp("created_at")?,
        updated_at: item.timestamp("updated_at")?,
    })
}

#[async_trait]
impl MeetingStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn get_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
    ) -> Result<Option<MeetingRecord>, StoreError> {
        self.get_item(meeting_pk(tenant, session_id), MEETING_SK)
            .await?
            .map(|item| meeting_from_item(&item))
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %record.tenant, revision = record.revision))]
    async fn put_meeting(&self, record: &MeetingRecord, condition: WriteCondition) -> Result<(), StoreError> {
        self.put_item_if(meeting_to_item(record), condition, "revision").await
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn delete_meeting(
        &self,
        tenant: &TenantId,
        session_id: &SessionId,
        revision: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(meeting_pk(tenant, session_id)))
            .key("sk", AttributeValue::S(MEETING_SK.to_owned()))
            .condition_expression("#revision = :revision")
            .expression_attribute_names("#revision", "revision")
            .expression_attribute_values(":revision", number(revision))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(sdk_unavailable("DeleteItem", err)),
        }
    }
}
