//! `infra/scripts/backfill-index-keys.sh`, run for real: the AWS CLI against moto's DynamoDB,
//! on connection items as calbridge wrote them before the account and tenant indexes existed
//! (the index keys removed), and read back through calbridge's own DynamoDB adapter.
//!
//! Needs `MOTO_ENDPOINT` and the AWS CLI that `infra/scripts/deploy-checks.sh` installs into
//! `.venv` (both provided by `infra/scripts/test.sh`); without them these tests fail, naming
//! what is missing.

use std::process::Output;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use calbridge::adapters::dynamodb::DynamoDbStore;
use calbridge::domain::{ConnectionKey, Provider, TenantId, UserId};
use calbridge::ports::{
    ConnectionQuery, ConnectionRecord, ConnectionStatus, ConnectionStore, SealedSecret, WriteCondition,
};
use jiff::Timestamp;
use lambda_e2e::aws::{self, moto_endpoint};

fn backfill(args: &[&str]) -> Output {
    lambda_e2e::scripts::command("backfill-index-keys.sh").args(args).output().expect("backfill-index-keys.sh runs")
}

fn printed(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn key(tenant: &str, user: &str) -> ConnectionKey {
    ConnectionKey::new(TenantId::parse(tenant).unwrap(), UserId::parse(user).unwrap(), Provider::Google)
}

fn record(key: ConnectionKey, account_id: &str) -> ConnectionRecord {
    let at: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
    ConnectionRecord {
        key,
        version: 1,
        status: ConnectionStatus::Connected,
        account_id: account_id.to_owned(),
        organisation_id: None,
        email: Some("dr.lee@example.com".to_owned()),
        scopes: vec!["openid".to_owned()],
        connected_at: at,
        updated_at: at,
        last_error: None,
        last_used_at: None,
        access_token_expires_at: None,
        selected_calendar_id: None,
        refresh_lease_until: None,
        sealed_tokens: SealedSecret {
            ciphertext: vec![1, 2, 3],
            nonce: [7; 12],
            encrypted_data_key: vec![9; 32],
            key_id: "arn:aws:kms:us-east-1:000000000000:key/test".to_owned(),
        },
    }
}

fn all(limit: usize) -> ConnectionQuery {
    ConnectionQuery { provider: None, status: None, after: None, limit }
}

#[tokio::test]
async fn connections_written_before_the_indexes_get_their_keys_once_and_nothing_else_changes() {
    // given a table with three connections as an older calbridge wrote them (no index keys),
    // and one written by this version
    let resources = aws::create_stack_resources(&moto_endpoint(), "calbridge-backfill").await;
    let (client, table) = (resources.dynamodb.clone(), resources.table_name.clone());
    let store = Arc::new(DynamoDbStore::new(client.clone(), table.clone()));
    let old = [key("clinic-42", "dr-lee"), key("clinic-42", "dr-sam"), key("other-clinic", "dr-lee")];
    for k in &old {
        store.put_connection(&record(k.clone(), "shared-account"), WriteCondition::Absent).await.unwrap();
        client
            .update_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(format!("T#{}#U#{}", k.tenant, k.user)))
            .key("sk", AttributeValue::S("CONN#google".to_owned()))
            .update_expression("REMOVE account_pk, tenant_pk, user_sk")
            .send()
            .await
            .unwrap();
    }
    let current = key("clinic-42", "dr-ana");
    store.put_connection(&record(current.clone(), "own-account"), WriteCondition::Absent).await.unwrap();
    let before = store.get_connection(&old[0]).await.unwrap().unwrap();
    let clinic = TenantId::parse("clinic-42").unwrap();
    assert_eq!(store.list_connections(&clinic, &all(10)).await.unwrap().connections.len(), 1);
    assert!(store.connections_of_account(Provider::Google, "shared-account").await.unwrap().is_empty());

    // when the operator looks first, then backfills
    let dry = backfill(&["--table", &table, "--dry-run"]);
    assert!(dry.status.success(), "{}", printed(&dry));
    assert!(printed(&dry).contains("3 connection items without index keys; 3 would update"), "{}", printed(&dry));
    assert!(store.connections_of_account(Provider::Google, "shared-account").await.unwrap().is_empty());
    let run = backfill(&["--table", &table]);

    // then both indexes find the old connections, which are otherwise as they were
    assert!(run.status.success(), "{}", printed(&run));
    assert!(printed(&run).contains("3 connection items without index keys; 3 updated, 0 skipped"), "{}", printed(&run));
    let listed = store.list_connections(&clinic, &all(10)).await.unwrap().connections;
    let users: Vec<String> = listed.iter().map(|c| c.key.user.to_string()).collect();
    assert_eq!(users, ["dr-ana", "dr-lee", "dr-sam"]);
    let mut sharing = store.connections_of_account(Provider::Google, "shared-account").await.unwrap();
    sharing.sort_by_key(|k| (k.tenant.to_string(), k.user.to_string()));
    assert_eq!(sharing, old);
    assert_eq!(store.get_connection(&old[0]).await.unwrap().unwrap(), before);

    // and a second run finds nothing to do
    let again = backfill(&["--table", &table]);
    assert!(again.status.success(), "{}", printed(&again));
    assert!(printed(&again).contains("0 connection items without index keys"), "{}", printed(&again));
}

#[tokio::test]
async fn an_unknown_table_is_an_error_that_names_it() {
    let output = backfill(&["--table", "calbridge-no-such-table"]);
    assert!(!output.status.success());
    assert!(printed(&output).contains("cannot scan calbridge-no-such-table"), "{}", printed(&output));
}
