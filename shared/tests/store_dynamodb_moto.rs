//! The AWS adapters on the wire: DynamoDB + KMS under the store contract, the item layout the
//! SAM template and operators rely on, KMS encryption-context binding, and Secrets Manager,
//! all against moto server (the AWS wire protocol, no AWS account).
//!
//! `MOTO_ENDPOINT` must point at a running moto: `infra/scripts/test.sh` (through
//! `infra/scripts/moto.sh`) starts one. Without it these tests fail rather than skip, so a
//! green run always means the adapters were exercised.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use base64::Engine as _;
use calbridge::adapters::dynamodb::{DynamoDbStore, create_table};
use calbridge::adapters::kms::{KmsKeyProvider, create_key_for_tests};
use calbridge::adapters::secrets_manager::SecretsManagerSource;
use calbridge::domain::{ConnectionKey, Provider};
use calbridge::ports::{
    ConnectionStore, EncryptionContext, FlowKind, FlowRecord, FlowStore, KeyError, KeyProvider, SealPurpose,
    SealedSecret, SecretSource, SecretsError, StoreError, WriteCondition,
};
use secrecy::ExposeSecret;

use common::store_contract::{RawConnection, StoreUnderTest, full_record, key, store_contract_tests};

// ---------------------------------------------------------------------------------------------
// Clients

fn moto_endpoint() -> String {
    match std::env::var("MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint,
        _ => panic!("MOTO_ENDPOINT is not set: run the tests through infra/scripts/test.sh, which starts moto"),
    }
}

/// A client of one AWS SDK crate talking to `endpoint` with dummy credentials. Built from the
/// service config alone, so no environment variable or profile can redirect it to real AWS;
/// over the HTTPS client the functions use (the SDK has no default one in this workspace).
macro_rules! client_for {
    ($sdk:ident, $endpoint:expr, $attempts:expr) => {{
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .http_client(calbridge::adapters::aws::https_client())
            .region($sdk::config::Region::new("us-east-1"))
            .endpoint_url($endpoint)
            .credentials_provider($sdk::config::Credentials::new("testing", "testing", None, None, "moto"))
            .retry_config($sdk::config::retry::RetryConfig::standard().with_max_attempts($attempts))
            .build();
        $sdk::Client::from_conf(config)
    }};
}

fn dynamodb() -> aws_sdk_dynamodb::Client {
    client_for!(aws_sdk_dynamodb, moto_endpoint(), 3)
}

fn kms() -> aws_sdk_kms::Client {
    client_for!(aws_sdk_kms, moto_endpoint(), 3)
}

fn secrets_manager() -> aws_sdk_secretsmanager::Client {
    client_for!(aws_sdk_secretsmanager, moto_endpoint(), 3)
}

/// Nothing listens on port 9 of loopback (discard): connections are refused at once.
const DEAD_ENDPOINT: &str = "http://127.0.0.1:9";

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", calbridge::crypto::random::token())
}

/// A fresh table of its own for one test.
async fn fresh_table() -> (aws_sdk_dynamodb::Client, String) {
    let client = dynamodb();
    let table = unique("calbridge-test");
    create_table(&client, &table).await.unwrap();
    (client, table)
}

async fn kms_provider() -> KmsKeyProvider {
    let client = kms();
    let key_id = create_key_for_tests(&client).await;
    KmsKeyProvider::new(client, key_id)
}

// ---------------------------------------------------------------------------------------------
// The store contract

struct DynamoDbRaw {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

#[async_trait]
impl RawConnection for DynamoDbRaw {
    async fn raw_connection(&self, key: &ConnectionKey) -> Option<Vec<u8>> {
        raw_item(&self.client, &self.table, &connection_pk(key), "CONN#google").await.map(|item| dump(&item))
    }
}

async fn setup() -> StoreUnderTest {
    let (client, table) = fresh_table().await;
    let store = Arc::new(DynamoDbStore::new(client.clone(), table.clone()));
    StoreUnderTest {
        connections: store.clone(),
        flows: store.clone(),
        syncs: store.clone(),
        meetings: store.clone(),
        budget: store.clone(),
        booking_links: store.clone(),
        sends: store,
        keys: Arc::new(kms_provider().await),
        raw: Arc::new(DynamoDbRaw { client, table }),
    }
}

store_contract_tests!(setup);

// ---------------------------------------------------------------------------------------------
// Table and item layout

type Item = HashMap<String, AttributeValue>;

fn connection_pk(key: &ConnectionKey) -> String {
    format!("T#{}#U#{}", key.tenant, key.user)
}

async fn raw_item(client: &aws_sdk_dynamodb::Client, table: &str, pk: &str, sk: &str) -> Option<Item> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// Every attribute of an item as bytes: text as UTF-8, binary raw and as base64 (its form on
/// the wire and in DynamoDB exports).
fn dump(item: &Item) -> Vec<u8> {
    fn value(out: &mut Vec<u8>, v: &AttributeValue) {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => out.extend_from_slice(s.as_bytes()),
            AttributeValue::B(b) => {
                out.extend_from_slice(b.as_ref());
                out.push(b' ');
                out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(b.as_ref()).as_bytes());
            }
            AttributeValue::L(list) => list.iter().for_each(|v| value(out, v)),
            AttributeValue::M(map) => map.values().for_each(|v| value(out, v)),
            other => out.extend_from_slice(format!("{other:?}").as_bytes()),
        }
        out.push(b'\n');
    }
    let mut out = Vec::new();
    for (name, v) in item {
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        value(&mut out, v);
    }
    out
}

fn s(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        other => panic!("{name}: expected S, got {other:?}"),
    }
}

fn n(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.clone(),
        other => panic!("{name}: expected N, got {other:?}"),
    }
}

fn b(item: &Item, name: &str) -> Vec<u8> {
    match item.get(name) {
        Some(AttributeValue::B(v)) => v.as_ref().to_vec(),
        other => panic!("{name}: expected B, got {other:?}"),
    }
}

fn assert_sealed_attributes(item: &Item, prefix: &str, sealed: &SealedSecret) {
    assert_eq!(b(item, &format!("{prefix}_ct")), sealed.ciphertext);
    assert_eq!(b(item, &format!("{prefix}_nonce")), sealed.nonce);
    assert_eq!(b(item, &format!("{prefix}_edk")), sealed.encrypted_data_key);
    assert_eq!(s(item, &format!("{prefix}_key_id")), sealed.key_id);
}

#[tokio::test]
async fn create_table_is_idempotent_and_enables_ttl_on_ttl() {
    let (client, table) = fresh_table().await;
    // The local stack calls it on every start.
    create_table(&client, &table).await.unwrap();

    let description = client.describe_table().table_name(&table).send().await.unwrap();
    let schema: Vec<(String, String)> = description
        .table()
        .unwrap()
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned()))
        .collect();
    assert_eq!(schema, [("pk".to_owned(), "HASH".to_owned()), ("sk".to_owned(), "RANGE".to_owned())]);

    let ttl = client.describe_time_to_live().table_name(&table).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some("ttl"));
}

#[tokio::test]
async fn connection_item_follows_the_documented_layout() {
    let (client, table) = fresh_table().await;
    let store = DynamoDbStore::new(client.clone(), table.clone());
    let record = full_record(key("t1", "u1"));
    store.put_connection(&record, WriteCondition::Absent).await.unwrap();

    let item = raw_item(&client, &table, "T#t1#U#u1", "CONN#google").await.expect("item at T#t1#U#u1 / CONN#google");
    assert_eq!(s(&item, "tenant_id"), "t1");
    assert_eq!(s(&item, "user_id"), "u1");
    assert_eq!(s(&item, "provider"), "google");
    assert_eq!(n(&item, "version"), record.version.to_string());
    assert_eq!(s(&item, "status"), "needs_reconnect");
    assert_eq!(s(&item, "account_id"), record.account_id);
    assert_eq!(s(&item, "email"), "ana.lima@example.com");
    assert_eq!(
        item.get("scopes"),
        Some(&AttributeValue::L(record.scopes.iter().cloned().map(AttributeValue::S).collect()))
    );
    assert_eq!(s(&item, "connected_at"), "2026-03-01T10:11:12.123456789Z");
    assert_eq!(s(&item, "updated_at"), record.updated_at.to_string());
    assert_eq!(s(&item, "last_error"), record.last_error.clone().unwrap());
    assert_eq!(s(&item, "access_token_expires_at"), record.access_token_expires_at.unwrap().to_string());
    assert_eq!(s(&item, "last_used_at"), record.last_used_at.unwrap().to_string());
    // The tenant index's keys: a tenant's connections by user, then provider.
    assert_eq!(s(&item, "tenant_pk"), "T#t1");
    assert_eq!(s(&item, "user_sk"), "u1#google");
    assert_eq!(s(&item, "account_pk"), format!("google#{}", record.account_id));
    assert_sealed_attributes(&item, "tokens", &record.sealed_tokens);
    assert!(!item.contains_key("ttl"), "connections never expire");

    // Absent optionals are omitted, not stored as empty strings or NULL.
    let sparse = calbridge::ports::ConnectionRecord {
        organisation_id: None,
        email: None,
        last_error: None,
        last_used_at: None,
        access_token_expires_at: None,
        selected_calendar_id: None,
        refresh_lease_until: None,
        ..full_record(key("t1", "u2"))
    };
    store.put_connection(&sparse, WriteCondition::Absent).await.unwrap();
    let item = raw_item(&client, &table, "T#t1#U#u2", "CONN#google").await.unwrap();
    for name in [
        "email",
        "last_error",
        "last_used_at",
        "access_token_expires_at",
        "selected_calendar_id",
        "refresh_lease_until",
    ] {
        assert!(!item.contains_key(name), "{name} stored although None");
    }
}

#[tokio::test]
async fn budget_item_is_one_counter_per_user_provider_and_minute_with_a_ttl() {
    use calbridge::ports::CallBudget;

    let (client, table) = fresh_table().await;
    let store = DynamoDbStore::new(client.clone(), table.clone());
    let now: jiff::Timestamp = "2026-05-01T12:00:30Z".parse().unwrap();
    store.spend(&key("t1", "u1"), 2, 10, now).await.unwrap();
    store.spend(&key("t1", "u1"), 3, 10, now).await.unwrap();
    let minute = now.as_second() / 60;
    let item = raw_item(&client, &table, "T#t1#U#u1", &format!("BUDGET#google#{minute}")).await.unwrap();
    assert_eq!(n(&item, "calls"), "5");
    assert_eq!(n(&item, "ttl"), ((minute + 2) * 60).to_string(), "reaped a minute after the window closes");
}

#[tokio::test]
async fn webhook_delivery_item_follows_the_documented_layout_with_a_ttl() {
    let (client, table) = fresh_table().await;
    let store = DynamoDbStore::new(client.clone(), table.clone());
    let expires_at: jiff::Timestamp = "2026-05-01T12:00:30.9Z".parse().unwrap();
    assert!(store.record_webhook_delivery(&"ef".repeat(32), expires_at).await.unwrap());

    let item = raw_item(&client, &table, &format!("WEBHOOK#{}", "ef".repeat(32)), "WEBHOOK").await.unwrap();
    assert_eq!(s(&item, "expires_at"), "2026-05-01T12:00:30.9Z");
    assert_eq!(n(&item, "ttl"), "1777636830", "ttl is expires_at in epoch seconds");
    assert_eq!(item.len(), 4, "pk, sk, expires_at and ttl only: {item:?}");
}

#[tokio::test]
async fn flow_item_follows_the_documented_layout_with_a_ttl() {
    let (client, table) = fresh_table().await;
    let store = DynamoDbStore::new(client.clone(), table.clone());
    let expires_at: jiff::Timestamp = "2026-05-01T12:00:30.9Z".parse().unwrap();
    let state = FlowRecord {
        kind: FlowKind::OAuthState,
        id_hash: "ab".repeat(32),
        owner: key("t1", "u1"),
        return_to: "https://app.example/done".to_owned(),
        login_hint: Some("ana@example.com".to_owned()),
        account_label: Some("Ana (clinic)".to_owned()),
        browser_binding_hash: Some("cd".repeat(32)),
        sealed_pkce_verifier: Some(full_record(key("t1", "u1")).sealed_tokens),
        expires_at,
    };
    store.put_flow(&state).await.unwrap();

    let item = raw_item(&client, &table, &format!("FLOW#state#{}", "ab".repeat(32)), "FLOW").await.unwrap();
    assert_eq!(s(&item, "tenant_id"), "t1");
    assert_eq!(s(&item, "user_id"), "u1");
    assert_eq!(s(&item, "provider"), "google");
    assert_eq!(s(&item, "return_to"), "https://app.example/done");
    assert_eq!(s(&item, "login_hint"), "ana@example.com");
    assert_eq!(s(&item, "account_label"), "Ana (clinic)");
    assert_eq!(s(&item, "browser_binding_hash"), "cd".repeat(32));
    assert_sealed_attributes(&item, "verifier", state.sealed_pkce_verifier.as_ref().unwrap());
    assert_eq!(s(&item, "expires_at"), "2026-05-01T12:00:30.9Z");
    assert_eq!(n(&item, "ttl"), "1777636830", "ttl is expires_at in epoch seconds");

    let ticket = FlowRecord {
        kind: FlowKind::LaunchTicket,
        login_hint: None,
        account_label: None,
        browser_binding_hash: None,
        sealed_pkce_verifier: None,
        ..state.clone()
    };
    store.put_flow(&ticket).await.unwrap();
    let item = raw_item(&client, &table, &format!("FLOW#ticket#{}", "ab".repeat(32)), "FLOW").await.unwrap();
    for name in [
        "login_hint",
        "account_label",
        "browser_binding_hash",
        "verifier_ct",
        "verifier_nonce",
        "verifier_edk",
        "verifier_key_id",
    ] {
        assert!(!item.contains_key(name), "{name} stored although None");
    }
}

#[tokio::test]
async fn booking_link_item_follows_the_documented_layout_with_a_ttl() {
    use calbridge::domain::{BookingLinkId, Interval, TenantId, UserId};
    use calbridge::ports::{BookingLinkCreator, BookingLinkRecord, BookingLinkStore};

    let (client, table) = fresh_table().await;
    let store = DynamoDbStore::new(client.clone(), table.clone());
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    let rules = serde_json::json!({
        "duration_minutes": 30, "time_zone": "Europe/Paris",
        "working_hours": [{"days": ["mon"], "start": "09:00", "end": "12:00"}]
    });
    let record = BookingLinkRecord {
        tenant: TenantId::parse("t1").unwrap(),
        id: BookingLinkId::parse("AAECAwQFBgcICQoLDA0ODw").unwrap(),
        created_by: BookingLinkCreator::User(UserId::parse("dr-lee").unwrap()),
        user_ids: vec![UserId::parse("dr-lee").unwrap()],
        window: Interval::new(at("2026-12-01T00:00:00Z"), at("2026-12-08T00:00:00Z")).unwrap(),
        rules: serde_json::from_value(rules).unwrap(),
        expires_at: at("2026-05-01T12:00:30Z"),
        revoked: false,
        created_at: at("2026-04-01T00:00:00Z"),
    };
    store.put_booking_link(&record).await.unwrap();

    let item = raw_item(&client, &table, "T#t1", "BOOKING#AAECAwQFBgcICQoLDA0ODw").await.unwrap();
    assert_eq!(s(&item, "tenant_id"), "t1");
    assert_eq!(s(&item, "link_id"), "AAECAwQFBgcICQoLDA0ODw");
    assert_eq!(s(&item, "created_by"), "user");
    assert_eq!(s(&item, "created_by_user"), "dr-lee");
    assert_eq!(s(&item, "time_min"), "2026-12-01T00:00:00Z");
    let stored_rules: serde_json::Value = serde_json::from_str(&s(&item, "rules")).unwrap();
    assert_eq!(stored_rules["time_zone"], "Europe/Paris");
    assert_eq!(item.get("revoked"), Some(&AttributeValue::Bool(false)));
    assert_eq!(n(&item, "ttl"), (1_777_636_830 + 24 * 3600).to_string(), "ttl is a day after expires_at");

    assert!(store.revoke_booking_link(&record.tenant, &record.id).await.unwrap());
    let item = raw_item(&client, &table, "T#t1", "BOOKING#AAECAwQFBgcICQoLDA0ODw").await.unwrap();
    assert_eq!(item.get("revoked"), Some(&AttributeValue::Bool(true)));
    assert_eq!(n(&item, "ttl"), (1_777_636_830 + 24 * 3600).to_string(), "revoking keeps the ttl");
}

#[tokio::test]
async fn a_malformed_item_is_corrupt_naming_the_attribute() {
    let (client, table) = fresh_table().await;
    let store = DynamoDbStore::new(client.clone(), table.clone());
    let damages = [
        ("version", AttributeValue::S("7".to_owned())),
        ("status", AttributeValue::S("paused".to_owned())),
        ("connected_at", AttributeValue::S("yesterday".to_owned())),
        ("scopes", AttributeValue::Ss(vec!["openid".to_owned()])),
        ("tokens_nonce", AttributeValue::B(vec![1, 2, 3].into())),
        ("tokens_key_id", AttributeValue::Null(true)),
        ("tenant_id", AttributeValue::S("t2".to_owned())),
    ];
    for (i, (name, bad)) in damages.into_iter().enumerate() {
        let record = full_record(key("t1", &format!("u{i}")));
        store.put_connection(&record, WriteCondition::Absent).await.unwrap();
        client
            .update_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(connection_pk(&record.key)))
            .key("sk", AttributeValue::S("CONN#google".to_owned()))
            .update_expression("SET #a = :bad")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":bad", bad)
            .send()
            .await
            .unwrap();
        match store.get_connection(&record.key).await {
            Err(StoreError::Corrupt(what)) => assert!(what.contains(name), "{name}: {what}"),
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_missing_table_is_unavailable() {
    let store = DynamoDbStore::new(dynamodb(), unique("no-such-table"));
    let key = key("t1", "u1");
    assert!(matches!(store.get_connection(&key).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        store.put_connection(&full_record(key.clone()), WriteCondition::Absent).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(store.delete_connection(&key).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.take_flow(FlowKind::OAuthState, "x").await, Err(StoreError::Unavailable(_))));
}

// ---------------------------------------------------------------------------------------------
// KMS

fn context(tenant: &str, user: &str, purpose: SealPurpose) -> EncryptionContext {
    EncryptionContext::new(&key(tenant, user), purpose)
}

#[tokio::test]
async fn a_data_key_unwraps_only_under_its_own_context_and_key() {
    let keys = kms_provider().await;
    let own = context("t1", "u1", SealPurpose::Tokens);
    let data_key = keys.generate_data_key(&own).await.unwrap();
    assert!(data_key.key_id.starts_with("arn:aws:kms:us-east-1:"), "{}", data_key.key_id);
    assert_ne!(data_key.encrypted.as_slice(), data_key.plaintext.expose_secret().as_slice());

    let unwrapped = keys.decrypt_data_key(&data_key.encrypted, &data_key.key_id, &own).await.unwrap();
    assert_eq!(unwrapped.expose_secret(), data_key.plaintext.expose_secret());

    // moto binds the context as AES-GCM associated data, so any other context is refused.
    for other in [
        context("t1", "u2", SealPurpose::Tokens),
        context("t2", "u1", SealPurpose::Tokens),
        context("t1", "u1", SealPurpose::OAuthState),
    ] {
        let result = keys.decrypt_data_key(&data_key.encrypted, &data_key.key_id, &other).await;
        assert!(matches!(result, Err(KeyError::Rejected)), "{other:?}: {result:?}");
    }

    // Naming another key than the one that wrapped it is refused (moto: AccessDeniedException;
    // AWS: IncorrectKeyException).
    let other_key = create_key_for_tests(&kms()).await;
    let result = keys.decrypt_data_key(&data_key.encrypted, &other_key, &own).await;
    assert!(matches!(result, Err(KeyError::Rejected)), "{result:?}");

    // A tampered blob is refused.
    let mut tampered = data_key.encrypted.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let result = keys.decrypt_data_key(&tampered, &data_key.key_id, &own).await;
    assert!(matches!(result, Err(KeyError::Rejected)), "{result:?}");
}

#[tokio::test]
async fn a_blob_that_does_not_unwrap_to_32_bytes_is_rejected() {
    // Someone with kms:Encrypt under our key and the right context wraps their own "key": it
    // decrypts, but it is not one of our AES-256 data keys, so it is refused.
    let client = kms();
    let key_id = create_key_for_tests(&client).await;
    let own = context("t1", "u1", SealPurpose::Tokens);
    let pairs: HashMap<String, String> = own.pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let keys = KmsKeyProvider::new(client.clone(), key_id.clone());
    for length in [16usize, 31, 33, 64] {
        let foreign = client
            .encrypt()
            .key_id(&key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(vec![7u8; length]))
            .set_encryption_context(Some(pairs.clone()))
            .send()
            .await
            .unwrap();
        let blob = foreign.ciphertext_blob().unwrap().as_ref().to_vec();
        let result = keys.decrypt_data_key(&blob, &key_id, &own).await;
        assert!(matches!(result, Err(KeyError::Rejected)), "{length} bytes: {result:?}");
    }
}

#[tokio::test]
async fn every_data_key_is_fresh() {
    let keys = kms_provider().await;
    let own = context("t1", "u1", SealPurpose::Tokens);
    let first = keys.generate_data_key(&own).await.unwrap();
    let second = keys.generate_data_key(&own).await.unwrap();
    assert_ne!(first.plaintext.expose_secret(), second.plaintext.expose_secret());
    assert_ne!(first.encrypted, second.encrypted);
}

#[tokio::test]
async fn an_unreachable_or_unknown_key_service_is_unavailable() {
    let own = context("t1", "u1", SealPurpose::Tokens);
    let dead = KmsKeyProvider::new(client_for!(aws_sdk_kms, DEAD_ENDPOINT, 1), "alias/calbridge");
    assert!(matches!(dead.generate_data_key(&own).await, Err(KeyError::Unavailable(_))));
    assert!(matches!(dead.decrypt_data_key(&[1, 2, 3], "k", &own).await, Err(KeyError::Unavailable(_))));

    let unknown = KmsKeyProvider::new(kms(), "alias/does-not-exist");
    match unknown.generate_data_key(&own).await {
        Err(KeyError::Unavailable(source)) => {
            let text = aws_sdk_kms::error::DisplayErrorContext(source.as_ref()).to_string();
            assert!(text.contains("NotFoundException"), "{text}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("a data key from a key that does not exist"),
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets Manager

const CLIENT_SECRET: &str = "GOCSPX-very-secret-client-secret";

async fn secret_with(value: &str) -> SecretsManagerSource {
    let client = secrets_manager();
    let name = unique("calbridge/test");
    client.create_secret().name(&name).secret_string(value).send().await.unwrap();
    SecretsManagerSource::new(client, name, &[Provider::Google])
}

#[tokio::test]
async fn loads_the_client_secret_and_signing_key() {
    let signing_key: Vec<u8> = (0..48u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&signing_key);
    let source = secret_with(&format!(
        r#"{{"google_client_secret": "{CLIENT_SECRET}", "state_signing_key": "{encoded}", "note": "rotated 2026-01"}}"#
    ))
    .await;
    let secrets = source.load().await.unwrap();
    assert_eq!(secrets.client_secret(Provider::Google).unwrap().expose_secret(), CLIENT_SECRET);
    assert_eq!(secrets.state_signing_key.expose_secret(), &signing_key);
    assert!(!format!("{source:?}").contains(CLIENT_SECRET));
}

#[tokio::test]
async fn with_zoom_the_secret_holds_zooms_client_secret_and_webhook_secret_token() {
    let encoded = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let client = secrets_manager();
    let name = unique("calbridge/test");
    let value = format!(
        r#"{{"google_client_secret": "{CLIENT_SECRET}", "zoom_client_secret": "zoom-client-shh",
            "zoom_webhook_secret_token": "zoom-webhook-shh", "state_signing_key": "{encoded}"}}"#
    );
    client.create_secret().name(&name).secret_string(value).send().await.unwrap();
    let source = SecretsManagerSource::new(client, name, &[Provider::Google, Provider::Zoom]);
    let secrets = source.load().await.unwrap();
    assert_eq!(secrets.client_secret(Provider::Zoom).unwrap().expose_secret(), "zoom-client-shh");
    assert_eq!(secrets.webhook_secret_token(Provider::Zoom).unwrap().expose_secret(), "zoom-webhook-shh");

    // Without the webhook token the secret is malformed, named by field and nothing else.
    let without = secret_with_providers(
        &format!(r#"{{"google_client_secret": "{CLIENT_SECRET}", "zoom_client_secret": "zoom-client-shh", "state_signing_key": "{encoded}"}}"#),
        &[Provider::Google, Provider::Zoom],
    )
    .await;
    match without.load().await {
        Err(SecretsError::Malformed(what)) => {
            assert_eq!(what, "zoom_webhook_secret_token is missing or not a non-empty string");
        }
        Err(other) => panic!("expected Malformed, got {other:?}"),
        Ok(_) => panic!("a Zoom deployment's secret without the webhook token loaded"),
    }
}

async fn secret_with_providers(value: &str, providers: &[Provider]) -> SecretsManagerSource {
    let client = secrets_manager();
    let name = unique("calbridge/test");
    client.create_secret().name(&name).secret_string(value).send().await.unwrap();
    SecretsManagerSource::new(client, name, providers)
}

#[tokio::test]
async fn booking_keys_come_from_the_secret_or_are_derived_from_the_state_key() {
    use calbridge::crypto::booking_token::DERIVED_KEY_ID;
    let state_key = base64::engine::general_purpose::STANDARD.encode([5u8; 32]);
    let (k2, k1) = (
        base64::engine::general_purpose::STANDARD.encode([2u8; 32]),
        base64::engine::general_purpose::STANDARD.encode([1u8; 32]),
    );
    let listed = secret_with(&format!(
        r#"{{"google_client_secret": "{CLIENT_SECRET}", "state_signing_key": "{state_key}", "booking_signing_keys": "k2:{k2},k1:{k1}"}}"#
    ))
    .await;
    let keys = listed.load().await.unwrap().booking_signing_keys;
    assert_eq!(keys.key_ids().collect::<Vec<_>>(), ["k2", "k1"]);

    let derived =
        secret_with(&format!(r#"{{"google_client_secret": "{CLIENT_SECRET}", "state_signing_key": "{state_key}"}}"#))
            .await;
    assert_eq!(derived.load().await.unwrap().booking_signing_keys.signing_key_id(), DERIVED_KEY_ID);

    let short = base64::engine::general_purpose::STANDARD.encode([3u8; 16]);
    for bad in [format!(r#""k1:{short}""#), "42".to_owned(), r#""""#.to_owned()] {
        let source = secret_with(&format!(
            r#"{{"google_client_secret": "{CLIENT_SECRET}", "state_signing_key": "{state_key}", "booking_signing_keys": {bad}}}"#
        ))
        .await;
        match source.load().await {
            Err(SecretsError::Malformed(message)) => {
                assert!(
                    message.contains("booking signing keys") || message.contains("booking_signing_keys"),
                    "{message}"
                );
                assert!(!message.contains(&short), "{message}");
            }
            Err(other) => panic!("{bad}: expected Malformed, got {other:?}"),
            Ok(_) => panic!("{bad}: accepted"),
        }
    }
}

#[tokio::test]
async fn a_malformed_secret_names_the_field_and_never_its_value() {
    let short_key = base64::engine::general_purpose::STANDARD.encode([7u8; 31]);
    let good_key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let cases = [
        (format!(r#"{{"google_client_secret": "{CLIENT_SECRET}""#), "JSON object", vec![CLIENT_SECRET]),
        (format!(r#"["{CLIENT_SECRET}"]"#), "JSON object", vec![CLIENT_SECRET]),
        (format!(r#"{{"state_signing_key": "{good_key}"}}"#), "google_client_secret", vec![good_key.as_str()]),
        (
            format!(r#"{{"google_client_secret": 8675309123, "state_signing_key": "{good_key}"}}"#),
            "google_client_secret",
            vec!["8675309123", good_key.as_str()],
        ),
        (format!(r#"{{"google_client_secret": "{CLIENT_SECRET}"}}"#), "state_signing_key", vec![CLIENT_SECRET]),
        (
            format!(r#"{{"google_client_secret": "{CLIENT_SECRET}", "state_signing_key": "{short_key}"}}"#),
            "state_signing_key",
            vec![CLIENT_SECRET, short_key.as_str()],
        ),
        (
            format!(r#"{{"google_client_secret": "{CLIENT_SECRET}", "state_signing_key": "not base64 at all!!"}}"#),
            "state_signing_key",
            vec![CLIENT_SECRET, "not base64"],
        ),
    ];
    for (value, field, secrets) in cases {
        let err = match secret_with(&value).await.load().await {
            Err(err @ SecretsError::Malformed(_)) => err,
            Err(other) => panic!("{field}: expected Malformed, got {other:?}"),
            Ok(_) => panic!("{field}: a malformed secret loaded"),
        };
        let shown = format!("{err} / {err:?}");
        assert!(shown.contains(field), "{shown}");
        for secret in secrets {
            assert!(!shown.contains(secret), "the error shows a secret value: {shown}");
        }
    }
}

#[tokio::test]
async fn a_binary_secret_is_malformed() {
    let client = secrets_manager();
    let name = unique("calbridge/test");
    client
        .create_secret()
        .name(&name)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap();
    let result = SecretsManagerSource::new(client, name, &[Provider::Google]).load().await;
    assert!(matches!(result, Err(SecretsError::Malformed(ref what)) if what.contains("SecretString")));
}

#[tokio::test]
async fn a_missing_or_unreachable_secret_is_unavailable() {
    let missing = SecretsManagerSource::new(secrets_manager(), unique("calbridge/absent"), &[Provider::Google]);
    match missing.load().await {
        Err(SecretsError::Unavailable(source)) => {
            let text = aws_sdk_secretsmanager::error::DisplayErrorContext(source.as_ref()).to_string();
            assert!(text.contains("ResourceNotFoundException"), "{text}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("a secret that does not exist loaded"),
    }
    let dead = SecretsManagerSource::new(
        client_for!(aws_sdk_secretsmanager, DEAD_ENDPOINT, 1),
        "calbridge/x",
        &[Provider::Google],
    );
    assert!(matches!(dead.load().await, Err(SecretsError::Unavailable(_))));
}
