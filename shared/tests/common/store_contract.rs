//! The contract every storage backend honours: the semantics documented on
//! [`ConnectionStore`], [`FlowStore`], [`CallBudget`] and [`KeyProvider`], checked the same way against the
//! embedded store with the local key and against DynamoDB with KMS (on moto).
//!
//! A backend is handed over as a [`StoreUnderTest`]; `store_contract_tests!(setup)` expands to
//! one `#[tokio::test]` per contract function, each with a fresh backend from `setup().await`.
//! Every check is an assertion that fails when the backend is wrong: exact round trips,
//! conditional writes, single-use flows under contention, and envelope encryption that binds a
//! sealed blob to its row and never leaves plaintext in the stored item.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use calbridge::crypto::vault::{Vault, VaultError};
use calbridge::domain::{AppointmentId, BookingLinkId, ConnectionKey, Interval, Provider, SessionId, TenantId, UserId};
use calbridge::ports::{
    BookingLinkCreator, BookingLinkRecord, BookingLinkStore, BudgetError, CallBudget, ConnectionQuery,
    ConnectionRecord, ConnectionStatus, ConnectionStore, ConnectionSummary, EncryptionContext, FlowKind, FlowRecord,
    FlowStore, KeyError, KeyProvider, MadeWith, MeetingCreator, MeetingRecord, MeetingState, MeetingStore,
    PendingChange, Schedule, SealPurpose, SealedSecret, SendStore, StoreError, SyncRecord, SyncStatus, SyncStore,
    WriteCondition,
};
use jiff::Timestamp;
use secrecy::ExposeSecret;

/// One backend: the two stores (usually the same object), the key provider that goes with it,
/// and a way to see what is physically stored for a connection.
pub struct StoreUnderTest {
    pub connections: Arc<dyn ConnectionStore>,
    pub flows: Arc<dyn FlowStore>,
    pub syncs: Arc<dyn SyncStore>,
    pub meetings: Arc<dyn MeetingStore>,
    pub budget: Arc<dyn CallBudget>,
    pub booking_links: Arc<dyn BookingLinkStore>,
    pub sends: Arc<dyn SendStore>,
    pub keys: Arc<dyn KeyProvider>,
    pub raw: Arc<dyn RawConnection>,
}

/// What the backend physically holds for a connection, bypassing the store's mapping.
#[async_trait]
pub trait RawConnection: Send + Sync {
    /// Every stored attribute as bytes (text as UTF-8, binary both raw and as the backend
    /// encodes it), or `None` when nothing is stored.
    async fn raw_connection(&self, key: &ConnectionKey) -> Option<Vec<u8>>;
}

/// Expands to one `#[tokio::test]` per contract function; `$setup` is an async fn returning a
/// fresh [`StoreUnderTest`].
macro_rules! store_contract_tests {
    ($setup:path) => {
        $crate::common::store_contract::store_contract_tests!(
            @each $setup;
            get_of_a_missing_connection_is_none,
            connection_round_trips_every_field,
            create_fails_when_a_connection_exists,
            replace_succeeds_only_with_the_version_read,
            late_writer_cannot_resurrect_a_deleted_connection,
            delete_reports_whether_a_connection_existed,
            connections_of_different_users_and_tenants_are_independent,
            every_provider_round_trips_and_providers_never_alias,
            connections_of_an_account_span_tenants_and_follow_writes,
            a_tenants_connections_page_in_order_filtered_and_never_cross_tenants,
            record_use_sets_only_last_used_at_and_only_over_what_was_read,
            flow_is_taken_exactly_once,
            concurrent_takes_yield_exactly_one_flow,
            take_of_an_unknown_flow_is_none,
            expired_flow_is_still_returned,
            flow_kinds_do_not_collide,
            a_webhook_delivery_is_recorded_once_even_under_contention,
            sealed_tokens_round_trip_through_the_store,
            sealed_tokens_moved_to_another_row_do_not_open,
            stored_item_holds_no_plaintext_token,
            refresh_lease_goes_to_exactly_one_caller,
            refresh_lease_requires_the_current_version_and_expires,
            sync_record_round_trips_and_writes_are_conditional,
            meeting_record_round_trips_and_writes_are_conditional,
            budget_grants_up_to_the_limit_per_minute_then_refuses_until_the_next,
            budget_refuses_a_spend_whole_and_keys_never_share_a_counter,
            concurrent_spends_never_exceed_the_limit,
            pending_changes_keep_the_latest_per_appointment_listed_by_user,
            booking_link_round_trips_is_created_once_and_revokes,
            a_send_key_is_claimed_once_and_then_answers_its_record,
            a_released_or_expired_send_key_is_claimed_anew,
            concurrent_claims_of_a_send_key_have_one_winner,
        );
    };
    (@each $setup:path; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::common::store_contract::$name($setup().await).await;
            }
        )+
    };
}
pub(crate) use store_contract_tests;

pub use super::send_contract::*;

// ---------------------------------------------------------------------------------------------
// Fixtures

pub fn key(tenant: &str, user: &str) -> ConnectionKey {
    ConnectionKey::new(TenantId::parse(tenant).unwrap(), UserId::parse(user).unwrap(), Provider::Google)
}

fn at(rfc3339: &str) -> Timestamp {
    rfc3339.parse().unwrap()
}

/// A recognisable fake sealed blob, with bytes that break text encodings (0x00, 0xff).
fn fake_sealed(tag: u8) -> SealedSecret {
    SealedSecret {
        ciphertext: vec![0x00, 0xff, tag, 0x80, 0x7f, b'"', b'\\', tag, 0x00],
        nonce: [tag, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xff],
        encrypted_data_key: (0..=255u8).map(|b| b ^ tag).collect(),
        key_id: format!("arn:aws:kms:us-east-1:000000000000:key/test-{tag}"),
    }
}

/// Every optional field set, sub-second timestamps, unsorted scopes, a version past 2^53.
pub fn full_record(key: ConnectionKey) -> ConnectionRecord {
    ConnectionRecord {
        key,
        version: 9_007_199_254_740_993,
        status: ConnectionStatus::NeedsReconnect,
        account_id: "109876543210987654321".to_owned(),
        organisation_id: Some("EmuAccount00000000001a".to_owned()),
        email: Some("ana.lima@example.com".to_owned()),
        scopes: vec![
            "https://www.googleapis.com/auth/calendar.events".to_owned(),
            "openid".to_owned(),
            "email".to_owned(),
        ],
        connected_at: at("2026-03-01T10:11:12.123456789Z"),
        updated_at: at("2026-03-02T00:00:00.5Z"),
        last_error: Some("invalid_grant: Token has been expired or revoked.".to_owned()),
        last_used_at: Some(at("2026-03-04T05:06:07.089Z")),
        access_token_expires_at: Some(at("2026-03-02T01:00:00.000001Z")),
        selected_calendar_id: Some("c_0123abcd@group.calendar.google.com".to_owned()),
        refresh_lease_until: Some(at("2026-03-02T00:00:30.123Z")),
        sealed_tokens: fake_sealed(1),
    }
}

/// Every optional field absent.
fn sparse_record(key: ConnectionKey) -> ConnectionRecord {
    ConnectionRecord {
        key,
        version: 1,
        status: ConnectionStatus::Connected,
        account_id: "42".to_owned(),
        organisation_id: None,
        email: None,
        scopes: vec!["openid".to_owned()],
        connected_at: at("2026-01-01T00:00:00Z"),
        updated_at: at("2026-01-01T00:00:00Z"),
        last_error: None,
        last_used_at: None,
        access_token_expires_at: None,
        selected_calendar_id: None,
        refresh_lease_until: None,
        sealed_tokens: fake_sealed(2),
    }
}

fn with_version(record: &ConnectionRecord, version: u64, account_id: &str) -> ConnectionRecord {
    ConnectionRecord { version, account_id: account_id.to_owned(), ..record.clone() }
}

fn id_hash(seed: &str) -> String {
    // Shaped like the real thing (64 hex characters); uniqueness is all that matters here.
    let hex: String = seed.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0>64}")
}

fn state_flow(seed: &str, expires_at: Timestamp) -> FlowRecord {
    FlowRecord {
        kind: FlowKind::OAuthState,
        id_hash: id_hash(seed),
        owner: key("t1", "u1"),
        return_to: "https://app.example/integrations?tab=calendar".to_owned(),
        login_hint: Some("ana.lima@example.com".to_owned()),
        account_label: None,
        browser_binding_hash: Some("b".repeat(64)),
        sealed_pkce_verifier: Some(fake_sealed(3)),
        expires_at,
    }
}

fn ticket_flow(seed: &str) -> FlowRecord {
    FlowRecord {
        kind: FlowKind::LaunchTicket,
        id_hash: id_hash(seed),
        owner: key("t2", "u9"),
        return_to: "myapp://integrations".to_owned(),
        login_hint: None,
        account_label: Some("Ana Lima <ana@clinic.example> \"O'Hara\" \u{e9}".to_owned()),
        browser_binding_hash: None,
        sealed_pkce_verifier: None,
        expires_at: at("2099-01-01T00:00:00.25Z"),
    }
}

fn is_condition_failed(result: Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::ConditionFailed))
}

// ---------------------------------------------------------------------------------------------
// Connections

pub async fn get_of_a_missing_connection_is_none(s: StoreUnderTest) {
    assert_eq!(s.connections.get_connection(&key("t1", "u1")).await.unwrap(), None);
}

pub async fn connection_round_trips_every_field(s: StoreUnderTest) {
    for record in [full_record(key("t1", "u1")), sparse_record(key("t1", "u2"))] {
        s.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
        let stored = s.connections.get_connection(&record.key).await.unwrap();
        assert_eq!(stored.as_ref(), Some(&record), "record did not round-trip exactly");
    }
}

pub async fn create_fails_when_a_connection_exists(s: StoreUnderTest) {
    let first = sparse_record(key("t1", "u1"));
    s.connections.put_connection(&first, WriteCondition::Absent).await.unwrap();
    let second = full_record(key("t1", "u1"));
    assert!(is_condition_failed(s.connections.put_connection(&second, WriteCondition::Absent).await));
    assert_eq!(s.connections.get_connection(&first.key).await.unwrap(), Some(first));
}

pub async fn replace_succeeds_only_with_the_version_read(s: StoreUnderTest) {
    let v1 = sparse_record(key("t1", "u1"));
    s.connections.put_connection(&v1, WriteCondition::Absent).await.unwrap();

    let v2 = with_version(&v1, 2, "writer-a");
    s.connections.put_connection(&v2, WriteCondition::Version(1)).await.unwrap();
    assert_eq!(s.connections.get_connection(&v1.key).await.unwrap(), Some(v2.clone()));

    // Another writer that also read version 1 loses, and leaves no trace.
    let stale = with_version(&v1, 2, "writer-b");
    assert!(is_condition_failed(s.connections.put_connection(&stale, WriteCondition::Version(1)).await));
    // A version that was never written does not match either.
    let ahead = with_version(&v1, 4, "writer-c");
    assert!(is_condition_failed(s.connections.put_connection(&ahead, WriteCondition::Version(3)).await));
    assert_eq!(s.connections.get_connection(&v1.key).await.unwrap(), Some(v2.clone()));

    let v3 = with_version(&v1, 3, "writer-a-again");
    s.connections.put_connection(&v3, WriteCondition::Version(2)).await.unwrap();
    assert_eq!(s.connections.get_connection(&v1.key).await.unwrap(), Some(v3));
}

pub async fn late_writer_cannot_resurrect_a_deleted_connection(s: StoreUnderTest) {
    let v1 = sparse_record(key("t1", "u1"));
    s.connections.put_connection(&v1, WriteCondition::Absent).await.unwrap();
    // A refresh read version 1, then the user disconnected, then the refresh tries to save.
    assert!(s.connections.delete_connection(&v1.key).await.unwrap());
    let late = with_version(&v1, 2, "refreshed");
    assert!(is_condition_failed(s.connections.put_connection(&late, WriteCondition::Version(1)).await));
    assert_eq!(s.connections.get_connection(&v1.key).await.unwrap(), None);
}

pub async fn delete_reports_whether_a_connection_existed(s: StoreUnderTest) {
    let record = full_record(key("t1", "u1"));
    assert!(!s.connections.delete_connection(&record.key).await.unwrap());
    s.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
    assert!(s.connections.delete_connection(&record.key).await.unwrap());
    assert!(!s.connections.delete_connection(&record.key).await.unwrap());
    assert_eq!(s.connections.get_connection(&record.key).await.unwrap(), None);
    // Deleted means gone: the key can be connected again from scratch.
    s.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
}

pub async fn connections_of_different_users_and_tenants_are_independent(s: StoreUnderTest) {
    let records: Vec<ConnectionRecord> = [("t1", "u1", "acct-11"), ("t1", "u2", "acct-12"), ("t2", "u1", "acct-21")]
        .into_iter()
        .map(|(t, u, account)| with_version(&sparse_record(key(t, u)), 1, account))
        .collect();
    for record in &records {
        // Each create succeeds: no other key's record counts as "present".
        s.connections.put_connection(record, WriteCondition::Absent).await.unwrap();
    }
    for record in &records {
        assert_eq!(s.connections.get_connection(&record.key).await.unwrap().as_ref(), Some(record));
    }

    // Replacing and deleting one leaves the others untouched.
    let replaced = with_version(&records[0], 2, "acct-11-b");
    s.connections.put_connection(&replaced, WriteCondition::Version(1)).await.unwrap();
    assert!(s.connections.delete_connection(&records[1].key).await.unwrap());
    assert_eq!(s.connections.get_connection(&records[0].key).await.unwrap(), Some(replaced));
    assert_eq!(s.connections.get_connection(&records[1].key).await.unwrap(), None);
    assert_eq!(s.connections.get_connection(&records[2].key).await.unwrap().as_ref(), Some(&records[2]));
}

pub async fn every_provider_round_trips_and_providers_never_alias(s: StoreUnderTest) {
    // Given the same user connected to every provider, with a pending consent for each
    let mut records = Vec::new();
    for (i, provider) in Provider::ALL.into_iter().enumerate() {
        let key = ConnectionKey { provider, ..key("t1", "u1") };
        let record = ConnectionRecord { account_id: format!("{provider}-account"), ..full_record(key) };
        s.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
        let flow =
            FlowRecord { owner: record.key.clone(), ..state_flow(&format!("flow-{i}"), at("2099-01-01T00:00:00Z")) };
        s.flows.put_flow(&flow).await.unwrap();
        records.push((record, flow));
    }
    // Then each comes back under its own provider, never labelled as another
    for (record, flow) in &records {
        assert_eq!(s.connections.get_connection(&record.key).await.unwrap().as_ref(), Some(record));
        let taken = s.flows.take_flow(flow.kind, &flow.id_hash).await.unwrap();
        assert_eq!(taken.map(|f| f.owner), Some(record.key.clone()), "{}", record.key.provider);
    }
    // And deleting one provider's connection leaves the others
    let (zoom, _) = records.iter().find(|(r, _)| r.key.provider == Provider::Zoom).unwrap();
    assert!(s.connections.delete_connection(&zoom.key).await.unwrap());
    assert!(s.connections.get_connection(&key("t1", "u1")).await.unwrap().is_some(), "google's connection is kept");
}

/// Tenant/user/provider of each key, sorted: the query promises no order.
async fn holders_of(s: &StoreUnderTest, provider: Provider, account_id: &str) -> Vec<String> {
    let keys = s.connections.connections_of_account(provider, account_id).await.unwrap();
    let mut holders: Vec<String> =
        keys.iter().map(|k| format!("{}/{}/{}", k.tenant, k.user, k.provider.as_str())).collect();
    holders.sort();
    holders
}

pub async fn connections_of_an_account_span_tenants_and_follow_writes(s: StoreUnderTest) {
    // Given one Google account connected by two users in two tenants, another account, the same
    // account id at another provider, and a pending consent (not a connection)
    let google = |tenant: &str, user: &str, account: &str| with_version(&sparse_record(key(tenant, user)), 1, account);
    let shared_a = google("t1", "u1", "acct-A");
    let shared_b = google("t2", "u9", "acct-A");
    let other = google("t1", "u2", "acct-B");
    let zoom = ConnectionRecord {
        key: ConnectionKey { provider: Provider::Zoom, ..key("t1", "u3") },
        ..google("t1", "u3", "acct-A")
    };
    for record in [&shared_a, &shared_b, &other, &zoom] {
        s.connections.put_connection(record, WriteCondition::Absent).await.unwrap();
    }
    s.flows.put_flow(&state_flow("pending", at("2099-01-01T00:00:00Z"))).await.unwrap();

    // Then the account's connections are exactly its holders, in every tenant, of that provider
    assert_eq!(holders_of(&s, Provider::Google, "acct-A").await, ["t1/u1/google", "t2/u9/google"]);
    assert_eq!(holders_of(&s, Provider::Google, "acct-B").await, ["t1/u2/google"]);
    assert_eq!(holders_of(&s, Provider::Zoom, "acct-A").await, ["t1/u3/zoom"]);
    for near_miss in ["acct", "acct-A#", "ACCT-A", "", "google#acct-A"] {
        assert!(holders_of(&s, Provider::Google, near_miss).await.is_empty(), "{near_miss:?}");
    }

    // When one holder switches account and the other disconnects
    s.connections.put_connection(&with_version(&shared_a, 2, "acct-C"), WriteCondition::Version(1)).await.unwrap();
    assert_eq!(holders_of(&s, Provider::Google, "acct-A").await, ["t2/u9/google"]);
    assert_eq!(holders_of(&s, Provider::Google, "acct-C").await, ["t1/u1/google"]);
    assert!(s.connections.delete_connection(&shared_b.key).await.unwrap());

    // Then nobody holds the account any more
    assert!(holders_of(&s, Provider::Google, "acct-A").await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Flows

pub async fn flow_is_taken_exactly_once(s: StoreUnderTest) {
    for record in [state_flow("once-state", at("2099-01-01T00:00:00Z")), ticket_flow("once-ticket")] {
        s.flows.put_flow(&record).await.unwrap();
        let taken = s.flows.take_flow(record.kind, &record.id_hash).await.unwrap();
        assert_eq!(taken.as_ref(), Some(&record), "flow did not round-trip exactly");
        assert_eq!(s.flows.take_flow(record.kind, &record.id_hash).await.unwrap(), None);
    }
}

pub async fn concurrent_takes_yield_exactly_one_flow(s: StoreUnderTest) {
    for round in 0..3 {
        let record = state_flow(&format!("race-{round}"), at("2099-01-01T00:00:00Z"));
        s.flows.put_flow(&record).await.unwrap();
        let takers: Vec<_> = (0..8)
            .map(|_| {
                let flows = s.flows.clone();
                let id = record.id_hash.clone();
                tokio::spawn(async move { flows.take_flow(FlowKind::OAuthState, &id).await })
            })
            .collect();
        let mut winners = Vec::new();
        for taker in takers {
            if let Some(taken) = taker.await.unwrap().unwrap() {
                winners.push(taken);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} takers got the flow", winners.len());
        assert_eq!(winners[0], record);
    }
}

pub async fn take_of_an_unknown_flow_is_none(s: StoreUnderTest) {
    assert_eq!(s.flows.take_flow(FlowKind::OAuthState, &id_hash("never-stored")).await.unwrap(), None);
    assert_eq!(s.flows.take_flow(FlowKind::LaunchTicket, &id_hash("never-stored")).await.unwrap(), None);
}

pub async fn expired_flow_is_still_returned(s: StoreUnderTest) {
    // Expiry is the caller's check: TTL deletion is lazy, so the store must not pretend otherwise.
    let record = state_flow("expired", at("2020-01-01T00:00:00Z"));
    s.flows.put_flow(&record).await.unwrap();
    assert_eq!(s.flows.take_flow(record.kind, &record.id_hash).await.unwrap(), Some(record));
}

pub async fn flow_kinds_do_not_collide(s: StoreUnderTest) {
    // The same id hash as a ticket and as a state are two records.
    let state = state_flow("shared-id", at("2099-01-01T00:00:00Z"));
    let ticket = FlowRecord { id_hash: state.id_hash.clone(), ..ticket_flow("unused") };
    s.flows.put_flow(&state).await.unwrap();
    s.flows.put_flow(&ticket).await.unwrap();
    assert_eq!(s.flows.take_flow(FlowKind::LaunchTicket, &state.id_hash).await.unwrap(), Some(ticket));
    assert_eq!(s.flows.take_flow(FlowKind::OAuthState, &state.id_hash).await.unwrap(), Some(state));
}

pub async fn a_webhook_delivery_is_recorded_once_even_under_contention(s: StoreUnderTest) {
    // Given a delivery recorded once
    let first = id_hash("v0=delivery-1");
    assert!(s.flows.record_webhook_delivery(&first, at("2099-01-01T00:00:00Z")).await.unwrap());
    // Then it is never recorded again, even with another expiry, and other deliveries are independent
    assert!(!s.flows.record_webhook_delivery(&first, at("2099-01-01T00:00:00Z")).await.unwrap());
    assert!(!s.flows.record_webhook_delivery(&first, at("2099-06-01T00:00:00Z")).await.unwrap());
    // A delivery hash is not a flow id: the same hash as a pending state leaves the state alone
    let state = state_flow("delivery-2", at("2099-01-01T00:00:00Z"));
    s.flows.put_flow(&state).await.unwrap();
    assert!(s.flows.record_webhook_delivery(&state.id_hash, at("2099-01-01T00:00:00Z")).await.unwrap());
    assert_eq!(s.flows.take_flow(FlowKind::OAuthState, &state.id_hash).await.unwrap(), Some(state));
    // And of concurrent deliveries of one signed request, exactly one is recorded
    let racing = id_hash("v0=delivery-3");
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let flows = s.flows.clone();
            let id = racing.clone();
            tokio::spawn(async move { flows.record_webhook_delivery(&id, at("2099-01-01T00:00:00Z")).await })
        })
        .collect();
    let mut recorded = 0;
    for caller in callers {
        if caller.await.unwrap().unwrap() {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 1, "{recorded} concurrent callers recorded the same delivery");
}

// ---------------------------------------------------------------------------------------------
// Envelope encryption through the store

const ACCESS_TOKEN: &str = "ya29.a0AfB_plaintext-access-token-0123456789";
const REFRESH_TOKEN: &str = "1//0g-plaintext-refresh-token-abcdefghijklmnop";

fn token_json() -> Vec<u8> {
    format!(r#"{{"access_token":"{ACCESS_TOKEN}","refresh_token":"{REFRESH_TOKEN}"}}"#).into_bytes()
}

fn tokens_context(key: &ConnectionKey) -> EncryptionContext {
    EncryptionContext::new(key, SealPurpose::Tokens)
}

/// Seals the token JSON for `key` with `vault` and stores it as `key`'s connection.
async fn store_sealed_tokens(s: &StoreUnderTest, vault: &Vault, key: &ConnectionKey) -> ConnectionRecord {
    let sealed = vault.seal(&tokens_context(key), &token_json()).await.unwrap();
    let record = ConnectionRecord { sealed_tokens: sealed, ..full_record(key.clone()) };
    s.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
    record
}

pub async fn sealed_tokens_round_trip_through_the_store(s: StoreUnderTest) {
    let owner = key("t1", "u1");
    let writer = Vault::new(s.keys.clone());
    let record = store_sealed_tokens(&s, &writer, &owner).await;
    let stored = s.connections.get_connection(&owner).await.unwrap().unwrap();
    assert_eq!(stored.sealed_tokens, record.sealed_tokens);

    // The writing container (data key cached) and a cold one (key service unwraps) both open it.
    let cold = Vault::new(s.keys.clone());
    for vault in [&writer, &cold] {
        let opened = vault.open(&tokens_context(&owner), &stored.sealed_tokens).await.unwrap();
        assert_eq!(opened.expose_secret().as_slice(), token_json().as_slice());
    }
}

pub async fn sealed_tokens_moved_to_another_row_do_not_open(s: StoreUnderTest) {
    let owner = key("t1", "u1");
    let writer = Vault::new(s.keys.clone());
    let original = store_sealed_tokens(&s, &writer, &owner).await;

    // An attacker with write access to the table copies u1's blob into u2's row.
    let victim = key("t1", "u2");
    let moved = ConnectionRecord { sealed_tokens: original.sealed_tokens.clone(), ..full_record(victim.clone()) };
    s.connections.put_connection(&moved, WriteCondition::Absent).await.unwrap();
    let stolen = s.connections.get_connection(&victim).await.unwrap().unwrap().sealed_tokens;
    assert_eq!(stolen, original.sealed_tokens);

    // Neither the warm vault nor a fresh one opens it as u2's.
    assert!(writer.open(&tokens_context(&victim), &stolen).await.is_err());
    let cold = Vault::new(s.keys.clone());
    match cold.open(&tokens_context(&victim), &stolen).await {
        Err(VaultError::Key(KeyError::Rejected)) => {}
        Err(other) => panic!("expected the key service to reject the data key, got {other:?}"),
        Ok(_) => panic!("a blob moved to another user's row opened"),
    }

    // The key service itself refuses the data key under any other context: another user, another
    // tenant, or the same owner with another purpose.
    for context in [
        tokens_context(&victim),
        tokens_context(&key("t2", "u1")),
        EncryptionContext::new(&owner, SealPurpose::OAuthState),
    ] {
        let refused = s.keys.decrypt_data_key(&stolen.encrypted_data_key, &stolen.key_id, &context).await;
        assert!(matches!(refused, Err(KeyError::Rejected)), "{context:?}: {refused:?}");
    }
    // ...while the owner's own context still works, so the refusals above are about the context.
    s.keys.decrypt_data_key(&stolen.encrypted_data_key, &stolen.key_id, &tokens_context(&owner)).await.unwrap();
}

pub async fn stored_item_holds_no_plaintext_token(s: StoreUnderTest) {
    let owner = key("t1", "u1");
    let vault = Vault::new(s.keys.clone());
    let record = store_sealed_tokens(&s, &vault, &owner).await;
    let raw = s.raw.raw_connection(&owner).await.expect("the backend holds the connection");

    // The dump is really the record: its non-secret fields are there in clear.
    assert!(contains(&raw, record.account_id.as_bytes()), "raw dump does not show the record");

    for secret in [token_json().as_slice(), ACCESS_TOKEN.as_bytes(), REFRESH_TOKEN.as_bytes()] {
        for needle in encodings(secret) {
            assert!(
                !contains(&raw, &needle),
                "the stored item contains a plaintext token (as {:?})",
                String::from_utf8_lossy(&needle)
            );
        }
    }
}

/// The secret itself, and its base64 (standard and URL-safe) at every alignment it could have
/// inside a larger encoded buffer, minus the edge characters that depend on neighbouring bytes.
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut needles = vec![secret.to_vec()];
    for engine in [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD]
    {
        for skip in 0..3 {
            let encoded = engine.encode(&secret[skip..]);
            let stable = &encoded[..encoded.len() - 4];
            needles.push(stable.as_bytes().to_vec());
        }
    }
    needles
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

// ---------------------------------------------------------------------------------------------
// Refresh lease

pub async fn refresh_lease_goes_to_exactly_one_caller(s: StoreUnderTest) {
    let owner = key("t1", "u1");
    let record = sparse_record(owner.clone());
    s.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
    let now = at("2026-01-01T00:00:00Z");
    let until = at("2026-01-01T00:00:10Z");
    let attempts = (0..8).map(|_| {
        let connections = s.connections.clone();
        let owner = owner.clone();
        tokio::spawn(async move { connections.acquire_refresh_lease(&owner, 1, now, until).await.unwrap() })
    });
    let mut winners = 0;
    for attempt in attempts {
        winners += usize::from(attempt.await.unwrap());
    }
    assert_eq!(winners, 1, "exactly one concurrent caller gets the lease");
    let stored = s.connections.get_connection(&owner).await.unwrap().unwrap();
    assert_eq!(stored.refresh_lease_until, Some(until));
    assert_eq!(stored.version, 1, "taking the lease does not bump the version");
}

pub async fn refresh_lease_requires_the_current_version_and_expires(s: StoreUnderTest) {
    let owner = key("t1", "u1");
    let now = at("2026-01-01T00:00:00Z");
    let later = at("2026-01-01T00:00:10Z");
    // No record: no lease (a disconnected user is never refreshed).
    assert!(!s.connections.acquire_refresh_lease(&owner, 1, now, later).await.unwrap());
    let record = sparse_record(owner.clone());
    s.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
    // A stale version loses.
    assert!(!s.connections.acquire_refresh_lease(&owner, 0, now, later).await.unwrap());
    assert!(s.connections.acquire_refresh_lease(&owner, 1, now, later).await.unwrap());
    // Held until it expires, then available again.
    assert!(
        !s.connections
            .acquire_refresh_lease(&owner, 1, at("2026-01-01T00:00:09.999Z"), at("2026-01-01T00:00:20Z"))
            .await
            .unwrap()
    );
    assert!(s.connections.acquire_refresh_lease(&owner, 1, later, at("2026-01-01T00:00:20Z")).await.unwrap());
    // The holder's write at the leased version publishes the token and clears the lease.
    let refreshed = ConnectionRecord { version: 2, refresh_lease_until: None, ..record.clone() };
    s.connections.put_connection(&refreshed, WriteCondition::Version(1)).await.unwrap();
    let stored = s.connections.get_connection(&owner).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.refresh_lease_until), (2, None));
}

// ---------------------------------------------------------------------------------------------
// Appointment sync records

fn sync_record(tenant: &str, appointment: &str) -> SyncRecord {
    SyncRecord {
        tenant: TenantId::parse(tenant).unwrap(),
        appointment_id: AppointmentId::parse(appointment).unwrap(),
        revision: 1,
        version: 1_763_000_000_123,
        user_id: UserId::parse("staff-9").unwrap(),
        calendar_id: Some("c_0123abcd@group.calendar.google.com".to_owned()),
        google_event_id: "cb0123456789abcdefghijklmnopqrstuv".to_owned(),
        status: SyncStatus::Synced,
        last_synced_at: Some(at("2026-03-01T10:11:12.123456789Z")),
        error: Some("google unavailable".to_owned()),
        attempts: 3,
        lease_until: Some(at("2026-03-01T10:11:42.5Z")),
    }
}

pub async fn sync_record_round_trips_and_writes_are_conditional(s: StoreUnderTest) {
    let (tenant, appointment) = (TenantId::parse("t1").unwrap(), AppointmentId::parse("a-123").unwrap());
    assert_eq!(s.syncs.get_sync(&tenant, &appointment).await.unwrap(), None);
    let record = sync_record("t1", "a-123");
    s.syncs.put_sync(&record, WriteCondition::Absent).await.unwrap();
    assert_eq!(s.syncs.get_sync(&tenant, &appointment).await.unwrap(), Some(record.clone()));
    assert!(matches!(s.syncs.put_sync(&record, WriteCondition::Absent).await, Err(StoreError::ConditionFailed)));

    let sparse = SyncRecord {
        revision: 2,
        calendar_id: None,
        last_synced_at: None,
        error: None,
        lease_until: None,
        status: SyncStatus::Deleted,
        ..record.clone()
    };
    assert!(matches!(s.syncs.put_sync(&sparse, WriteCondition::Version(7)).await, Err(StoreError::ConditionFailed)));
    s.syncs.put_sync(&sparse, WriteCondition::Version(1)).await.unwrap();
    assert_eq!(s.syncs.get_sync(&tenant, &appointment).await.unwrap(), Some(sparse));

    // The same appointment id in another tenant is another record.
    assert_eq!(s.syncs.get_sync(&TenantId::parse("t2").unwrap(), &appointment).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Session meetings

pub async fn meeting_record_round_trips_and_writes_are_conditional(s: StoreUnderTest) {
    let (tenant, session) = (TenantId::parse("t1").unwrap(), SessionId::parse("s-1").unwrap());
    assert_eq!(s.meetings.get_meeting(&tenant, &session).await.unwrap(), None);
    let creating = MeetingRecord {
        tenant: tenant.clone(),
        session_id: session.clone(),
        revision: 1,
        state: MeetingState::Creating { lease_until: at("2026-03-01T10:11:42.5Z") },
        host_user_id: UserId::parse("coach-1").unwrap(),
        participant_user_ids: vec![UserId::parse("client-2").unwrap(), UserId::parse("client-1").unwrap()],
        created_by: MeetingCreator::Service,
        provider: "google_meet".to_owned(),
        meeting_url: None,
        conference_id: None,
        calendar_event_id: None,
        calendar_id: None,
        request_id: Some("req-1".to_owned()),
        schedule: None,
        made_with: None,
        created_at: at("2026-03-01T10:11:12.123456789Z"),
        updated_at: at("2026-03-01T10:11:12.123456789Z"),
    };
    s.meetings.put_meeting(&creating, WriteCondition::Absent).await.unwrap();
    assert_eq!(s.meetings.get_meeting(&tenant, &session).await.unwrap(), Some(creating.clone()));
    assert!(matches!(
        s.meetings.put_meeting(&creating, WriteCondition::Absent).await,
        Err(StoreError::ConditionFailed)
    ));

    let ready = MeetingRecord {
        revision: 2,
        state: MeetingState::Ready,
        meeting_url: Some("https://meet.google.com/abc-defg-hij".to_owned()),
        conference_id: Some("abc-defg-hij".to_owned()),
        calendar_event_id: Some("ev1".to_owned()),
        calendar_id: Some("primary".to_owned()),
        ..creating.clone()
    };
    assert!(matches!(
        s.meetings.put_meeting(&ready, WriteCondition::Version(5)).await,
        Err(StoreError::ConditionFailed)
    ));
    s.meetings.put_meeting(&ready, WriteCondition::Version(1)).await.unwrap();
    assert_eq!(s.meetings.get_meeting(&tenant, &session).await.unwrap(), Some(ready.clone()));
    assert_eq!(s.meetings.get_meeting(&TenantId::parse("t2").unwrap(), &session).await.unwrap(), None);

    // Deletes only the revision it names.
    assert!(!s.meetings.delete_meeting(&tenant, &session, 1).await.unwrap());
    assert!(s.meetings.delete_meeting(&tenant, &session, 2).await.unwrap());
    assert_eq!(s.meetings.get_meeting(&tenant, &session).await.unwrap(), None);
    assert!(!s.meetings.delete_meeting(&tenant, &session, 2).await.unwrap());

    // A Zoom meeting keeps its schedule and the connection that made it.
    let zoom = MeetingRecord {
        provider: "zoom".to_owned(),
        conference_id: Some("85746065432".to_owned()),
        meeting_url: Some("https://zoom.us/j/85746065432?pwd=x".to_owned()),
        calendar_event_id: None,
        calendar_id: None,
        schedule: Some(Schedule {
            start: at("2026-03-02T09:00:00Z"),
            end: at("2026-03-02T09:45:00.5Z"),
            time_zone: Some("Europe/Berlin".to_owned()),
        }),
        made_with: Some(MadeWith { user: UserId::parse("org-zoom").unwrap(), account_id: "EmuUser1".to_owned() }),
        ..ready.clone()
    };
    s.meetings.put_meeting(&zoom, WriteCondition::Absent).await.unwrap();
    assert_eq!(s.meetings.get_meeting(&tenant, &session).await.unwrap(), Some(zoom.clone()));
    assert!(s.meetings.delete_meeting(&tenant, &session, zoom.revision).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Call budget

fn retry_after(result: Result<(), BudgetError>) -> std::time::Duration {
    match result {
        Err(BudgetError::Exhausted { retry_after }) => retry_after,
        other => panic!("expected the budget to be spent, got {other:?}"),
    }
}

pub async fn budget_grants_up_to_the_limit_per_minute_then_refuses_until_the_next(s: StoreUnderTest) {
    let me = key("t1", "u1");
    let now = at("2026-12-01T10:00:15Z");
    s.budget.spend(&me, 3, 5, now).await.unwrap();
    s.budget.spend(&me, 2, 5, at("2026-12-01T10:00:59Z")).await.unwrap();
    // The minute is spent: refused with the time to the next minute.
    assert_eq!(retry_after(s.budget.spend(&me, 1, 5, now).await), std::time::Duration::from_secs(45));
    // The next minute starts from nothing.
    let next = at("2026-12-01T10:01:00Z");
    s.budget.spend(&me, 5, 5, next).await.unwrap();
    assert_eq!(retry_after(s.budget.spend(&me, 1, 5, next).await), std::time::Duration::from_secs(60));
}

pub async fn budget_refuses_a_spend_whole_and_keys_never_share_a_counter(s: StoreUnderTest) {
    let me = key("t1", "u1");
    let now = at("2026-12-01T10:00:00Z");
    s.budget.spend(&me, 4, 5, now).await.unwrap();
    // Two more do not fit: none of them is taken, so one still does.
    retry_after(s.budget.spend(&me, 2, 5, now).await);
    s.budget.spend(&me, 1, 5, now).await.unwrap();
    // More than the limit never fits, even in a fresh minute.
    retry_after(s.budget.spend(&me, 6, 5, at("2026-12-01T11:00:00Z")).await);
    // Another user, the same user in another tenant, another provider: their own counters.
    let others = [
        key("t1", "u2"),
        key("t2", "u1"),
        ConnectionKey::new(TenantId::parse("t1").unwrap(), UserId::parse("u1").unwrap(), Provider::Zoom),
    ];
    for other in &others {
        s.budget.spend(other, 5, 5, now).await.unwrap();
    }
    retry_after(s.budget.spend(&me, 1, 5, now).await);
}

pub async fn concurrent_spends_never_exceed_the_limit(s: StoreUnderTest) {
    let me = key("t1", "u1");
    let now = at("2026-12-01T10:00:00Z");
    let spends = (0..12).map(|_| {
        let budget = s.budget.clone();
        let me = me.clone();
        tokio::spawn(async move { budget.spend(&me, 1, 7, now).await })
    });
    let results = futures_util::future::join_all(spends).await;
    let granted = results.into_iter().filter(|r| matches!(r, Ok(Ok(())))).count();
    assert_eq!(granted, 7, "exactly the limit is granted, whoever wins");
}

// Pending appointment changes

fn pending(tenant: &str, user: &str, appointment: &str, version: u64, expires_at: &str) -> PendingChange {
    PendingChange {
        tenant: TenantId::parse(tenant).unwrap(),
        user_id: UserId::parse(user).unwrap(),
        appointment_id: AppointmentId::parse(appointment).unwrap(),
        version,
        action: "update".into(),
        start: Some(at("2030-01-02T09:00:00Z")),
        end: Some(at("2030-01-02T10:00:00Z")),
        time_zone: Some("Europe/Lisbon".into()),
        title: None,
        expires_at: at(expires_at),
    }
}

pub async fn pending_changes_keep_the_latest_per_appointment_listed_by_user(s: StoreUnderTest) {
    let now = at("2030-01-01T00:00:00Z");
    let (t1, u1) = (TenantId::parse("t1").unwrap(), UserId::parse("u1").unwrap());
    let a1 = AppointmentId::parse("a1").unwrap();
    let list = |tenant: &TenantId, user: &UserId, limit| {
        let (syncs, tenant, user) = (s.syncs.clone(), tenant.clone(), user.clone());
        async move { syncs.list_pending(&tenant, &user, now, limit).await.unwrap() }
    };
    // The latest version wins, in either order of arrival.
    s.syncs.put_pending(&pending("t1", "u1", "a1", 2, "2030-01-03T00:00:00Z")).await.unwrap();
    s.syncs.put_pending(&pending("t1", "u1", "a1", 1, "2030-01-03T00:00:00Z")).await.unwrap();
    assert_eq!(list(&t1, &u1, 10).await, vec![pending("t1", "u1", "a1", 2, "2030-01-03T00:00:00Z")]);
    let mut newer = pending("t1", "u1", "a1", 3, "2030-01-04T00:00:00Z");
    newer.action = "delete".into();
    (newer.start, newer.end, newer.time_zone, newer.title) = (None, None, None, Some("Kept title".into()));
    s.syncs.put_pending(&newer).await.unwrap();
    assert_eq!(list(&t1, &u1, 10).await, vec![newer.clone()], "round trips whole");

    // Listed by user only: never another user's, another tenant's, or an expired one.
    s.syncs.put_pending(&pending("t1", "u1", "a2", 1, "2030-01-03T00:00:00Z")).await.unwrap();
    s.syncs.put_pending(&pending("t1", "u1", "a3", 1, "2029-12-31T00:00:00Z")).await.unwrap();
    s.syncs.put_pending(&pending("t1", "u12", "a1", 1, "2030-01-03T00:00:00Z")).await.unwrap();
    s.syncs.put_pending(&pending("t2", "u1", "a1", 1, "2030-01-03T00:00:00Z")).await.unwrap();
    let mut ids: Vec<String> = list(&t1, &u1, 10).await.iter().map(|p| p.appointment_id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, vec!["a1", "a2"]);
    assert_eq!(list(&t1, &u1, 1).await.len(), 1, "at most the limit");
    assert_eq!(list(&t1, &UserId::parse("u12").unwrap(), 10).await.len(), 1);

    // Forgotten only up to a version: a newer change kept meanwhile stays.
    s.syncs.delete_pending(&t1, &u1, &a1, 2).await.unwrap();
    assert_eq!(list(&t1, &u1, 10).await.len(), 2, "version 3 is newer than 2");
    s.syncs.delete_pending(&t1, &u1, &a1, 3).await.unwrap();
    s.syncs.delete_pending(&t1, &u1, &AppointmentId::parse("nothing").unwrap(), 3).await.unwrap();
    let left: Vec<String> = list(&t1, &u1, 10).await.iter().map(|p| p.appointment_id.to_string()).collect();
    assert_eq!(left, vec!["a2"]);
    assert_eq!(list(&TenantId::parse("t2").unwrap(), &u1, 10).await.len(), 1, "another tenant's is untouched");
}

// Booking links

fn booking_link(tenant: &str, id: &str, created_by: BookingLinkCreator) -> BookingLinkRecord {
    let rules = serde_json::json!({
        "duration_minutes": 30,
        "step_minutes": 15,
        "time_zone": "America/New_York",
        "working_hours": [{"days": ["mon", "fri"], "start": "09:00", "end": "17:30"}],
        "buffer_after_minutes": 10,
        "minimum_notice_minutes": 60,
        "mode": "any",
        "extra_busy": [{"start": "2026-12-02T15:00:00Z", "end": "2026-12-02T16:00:00Z"}]
    });
    BookingLinkRecord {
        tenant: TenantId::parse(tenant).unwrap(),
        id: BookingLinkId::parse(id).unwrap(),
        created_by,
        user_ids: vec![UserId::parse("dr-lee").unwrap(), UserId::parse("dr-sam").unwrap()],
        window: Interval::new(at("2026-12-01T00:00:00Z"), at("2026-12-08T00:00:00.5Z")).unwrap(),
        rules: serde_json::from_value(rules).unwrap(),
        expires_at: at("2026-12-15T00:00:00Z"),
        revoked: false,
        created_at: at("2026-11-20T10:11:12.123456789Z"),
    }
}

pub async fn booking_link_round_trips_is_created_once_and_revokes(s: StoreUnderTest) {
    let by_user =
        booking_link("t1", "AAECAwQFBgcICQoLDA0ODw", BookingLinkCreator::User(UserId::parse("dr-lee").unwrap()));
    let (tenant, id) = (by_user.tenant.clone(), by_user.id.clone());
    assert_eq!(s.booking_links.get_booking_link(&tenant, &id).await.unwrap(), None);
    assert!(!s.booking_links.revoke_booking_link(&tenant, &id).await.unwrap(), "revoking nothing creates nothing");
    assert_eq!(s.booking_links.get_booking_link(&tenant, &id).await.unwrap(), None);

    s.booking_links.put_booking_link(&by_user).await.unwrap();
    assert_eq!(s.booking_links.get_booking_link(&tenant, &id).await.unwrap(), Some(by_user.clone()));
    let again = BookingLinkRecord { revoked: true, ..by_user.clone() };
    assert!(matches!(s.booking_links.put_booking_link(&again).await, Err(StoreError::ConditionFailed)));

    // The same id in another tenant is another link; a service link round-trips too.
    let other = booking_link("t2", "AAECAwQFBgcICQoLDA0ODw", BookingLinkCreator::Service);
    assert_eq!(s.booking_links.get_booking_link(&other.tenant, &id).await.unwrap(), None);
    s.booking_links.put_booking_link(&other).await.unwrap();
    assert_eq!(s.booking_links.get_booking_link(&other.tenant, &id).await.unwrap(), Some(other.clone()));

    // Revoking changes only `revoked`, only in its tenant, and is idempotent.
    assert!(s.booking_links.revoke_booking_link(&tenant, &id).await.unwrap());
    assert_eq!(s.booking_links.get_booking_link(&tenant, &id).await.unwrap(), Some(again.clone()));
    assert!(s.booking_links.revoke_booking_link(&tenant, &id).await.unwrap());
    assert_eq!(s.booking_links.get_booking_link(&tenant, &id).await.unwrap(), Some(again));
    assert_eq!(s.booking_links.get_booking_link(&other.tenant, &id).await.unwrap(), Some(other));
}

// ---------------------------------------------------------------------------------------------
// Listing a tenant's connections, recording use

/// Pages through `tenant`'s connections `limit` at a time; the (user, provider) of each.
async fn page_all(
    s: &StoreUnderTest,
    tenant: &str,
    provider: Option<Provider>,
    status: Option<ConnectionStatus>,
    limit: usize,
) -> Vec<(String, Provider)> {
    let tenant = TenantId::parse(tenant).unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let query = ConnectionQuery { provider, status, after: after.clone(), limit };
        // The tenant index is eventually consistent in DynamoDB; moto answers at once.
        let page = s.connections.list_connections(&tenant, &query).await.unwrap();
        assert!(page.connections.len() <= limit);
        for c in &page.connections {
            assert_eq!(c.key.tenant, tenant, "another tenant's connection listed");
            seen.push((c.key.user.to_string(), c.key.provider));
        }
        if !page.more {
            return seen;
        }
        assert_eq!(page.connections.len(), limit, "a page with more after it is full");
        let last = page.connections.last().unwrap();
        after = Some((last.key.user.clone(), last.key.provider));
    }
    panic!("paging never ended");
}

pub async fn a_tenants_connections_page_in_order_filtered_and_never_cross_tenants(s: StoreUnderTest) {
    let mut expected = Vec::new();
    for i in 0..7 {
        let user = format!("u{i:02}");
        let google = ConnectionRecord {
            status: if i % 3 == 0 { ConnectionStatus::NeedsReconnect } else { ConnectionStatus::Connected },
            ..sparse_record(key("t1", &user))
        };
        s.connections.put_connection(&google, WriteCondition::Absent).await.unwrap();
        expected.push((user.clone(), Provider::Google));
        if i % 2 == 0 {
            let zoom =
                ConnectionKey::new(TenantId::parse("t1").unwrap(), UserId::parse(&user).unwrap(), Provider::Zoom);
            s.connections.put_connection(&sparse_record(zoom), WriteCondition::Absent).await.unwrap();
            expected.push((user.clone(), Provider::Zoom));
        }
        // Neighbouring tenants, including one whose name the first is a prefix of.
        for other in ["t0", "t1x", "t2"] {
            s.connections.put_connection(&full_record(key(other, &user)), WriteCondition::Absent).await.unwrap();
        }
    }
    for limit in [1, 2, 3, 11, 100] {
        assert_eq!(page_all(&s, "t1", None, None, limit).await, expected, "limit {limit}");
    }
    let zoom: Vec<_> = expected.iter().filter(|(_, p)| *p == Provider::Zoom).cloned().collect();
    assert_eq!(page_all(&s, "t1", Some(Provider::Zoom), None, 2).await, zoom);
    let reconnect = ["u00", "u03", "u06"].map(|u| (u.to_owned(), Provider::Google)).to_vec();
    assert_eq!(page_all(&s, "t1", None, Some(ConnectionStatus::NeedsReconnect), 1).await, reconnect);
    assert_eq!(page_all(&s, "t1", Some(Provider::Zoom), Some(ConnectionStatus::NeedsReconnect), 5).await, vec![]);
    assert!(page_all(&s, "nobody", None, None, 5).await.is_empty());

    // The listing shows the record's fields, and nothing deleted.
    let tenant = TenantId::parse("t2").unwrap();
    let page =
        s.connections.list_connections(&tenant, &ConnectionQuery { limit: 1, ..Default::default() }).await.unwrap();
    let record = full_record(key("t2", "u00"));
    assert_eq!(page.connections, vec![ConnectionSummary::from(&record)]);
    s.connections.delete_connection(&key("t1", "u01")).await.unwrap();
    let after_delete = page_all(&s, "t1", None, None, 4).await;
    assert!(!after_delete.contains(&("u01".to_owned(), Provider::Google)));
    assert_eq!(after_delete.len(), expected.len() - 1);
}

pub async fn record_use_sets_only_last_used_at_and_only_over_what_was_read(s: StoreUnderTest) {
    let k = key("t1", "u1");
    let record = ConnectionRecord { refresh_lease_until: Some(at("2026-01-01T00:00:30Z")), ..sparse_record(k.clone()) };
    s.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
    let first = at("2026-01-01T00:00:10Z");
    assert!(s.connections.record_use(&k, 1, None, first).await.unwrap());
    let stored = s.connections.get_connection(&k).await.unwrap().unwrap();
    assert_eq!(stored, ConnectionRecord { last_used_at: Some(first), ..record.clone() }, "only last_used_at changed");
    // Over a stale read (the value or the version) it writes nothing.
    let later = at("2026-01-01T00:20:00Z");
    assert!(!s.connections.record_use(&k, 1, None, later).await.unwrap());
    assert!(!s.connections.record_use(&k, 2, Some(first), later).await.unwrap());
    assert!(s.connections.record_use(&k, 1, Some(first), later).await.unwrap());
    assert_eq!(s.connections.get_connection(&k).await.unwrap().unwrap().last_used_at, Some(later));
    // A write (a refresh) bumps the version: a use recorded over the older one loses.
    let refreshed = ConnectionRecord { version: 2, last_used_at: Some(later), ..record.clone() };
    s.connections.put_connection(&refreshed, WriteCondition::Version(1)).await.unwrap();
    assert!(!s.connections.record_use(&k, 1, Some(later), at("2026-01-01T01:00:00Z")).await.unwrap());
    assert_eq!(s.connections.get_connection(&k).await.unwrap().unwrap(), refreshed);
    // Nothing stored: nothing written, nothing created.
    assert!(!s.connections.record_use(&key("t1", "ghost"), 1, None, later).await.unwrap());
    assert!(s.connections.get_connection(&key("t1", "ghost")).await.unwrap().is_none());
}
