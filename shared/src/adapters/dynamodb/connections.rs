//! Connection items: pk `T#{tenant}#U#{user}`, sk `CONN#{provider}`, one per user and
//! provider, holding a [`StoredConnection`], plus `account_pk` = `{provider}#{account_id}`, the
//! hash key of the [`ACCOUNT_INDEX`] GSI (projecting `tenant_id`, `user_id`, `provider`), and
//! `tenant_pk` = `T#{tenant}` / `user_sk` = `{user}#{provider}`, the keys of the
//! [`TENANT_INDEX`] GSI (projecting what the admin listing shows, [`SUMMARY_ATTRIBUTES`]).
//!
//! Contract: puts are conditional on `version` and always (re)write `account_pk`, `tenant_pk`
//! and `user_sk`; delete is unconditional; the refresh lease is one conditional `UpdateItem`
//! of `refresh_lease_until` that leaves `version` alone, and so is `record_use` of
//! `last_used_at`; connections of one account, and one page of a tenant's, are (paged)
//! `Query`s of an index, eventually consistent as every GSI read is.
//!
//! Items written before the index keys existed are in neither index until they are next put
//! (a token refresh, a reconnect, a calendar selection) or until
//! `infra/scripts/backfill-index-keys.sh` gives them their keys (`infra/DEPLOY.md`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use jiff::Timestamp;

use aws_sdk_dynamodb::types::AttributeValue;

use super::items::{self, from_item, to_item, value};
use super::{DynamoDbStore, Item, conditional, sdk_unavailable};
use crate::adapters::stored_forms::{
    EpochMillis, SUMMARY_ATTRIBUTES, StoredConnection, StoredConnectionSummary, owner,
};
use crate::domain::{ConnectionKey, Provider, TenantId, UserId};
use crate::ports::{ConnectionPage, ConnectionQuery, ConnectionRecord, ConnectionStore, StoreError, WriteCondition};

/// The GSI of connections by provider account; also declared in the SAM template and
/// [`super::create_table`].
pub(super) const ACCOUNT_INDEX: &str = "account-index";
/// Its hash key attribute.
pub(super) const ACCOUNT_PK: &str = "account_pk";
/// The GSI of connections by tenant, ordered by user then provider; also declared in the SAM
/// template and [`super::create_table`].
pub(super) const TENANT_INDEX: &str = "tenant-index";
/// Its hash key attribute, `T#{tenant}`.
pub(super) const TENANT_PK: &str = "tenant_pk";
/// Its range key attribute, `{user}#{provider}`.
pub(super) const USER_SK: &str = "user_sk";

fn tenant_pk(tenant: &TenantId) -> AttributeValue {
    AttributeValue::S(format!("T#{tenant}"))
}

fn user_sk(user: &UserId, provider: Provider) -> AttributeValue {
    AttributeValue::S(format!("{user}#{}", provider.as_str()))
}

/// The full key of a connection in [`TENANT_INDEX`] (the index's keys and the table's), as an
/// `ExclusiveStartKey`.
fn tenant_index_key(key: &ConnectionKey) -> Item {
    let mut item = connection_key(key);
    item.insert(TENANT_PK.to_owned(), tenant_pk(&key.tenant));
    item.insert(USER_SK.to_owned(), user_sk(&key.user, key.provider));
    item
}

fn connection_key(key: &ConnectionKey) -> Item {
    items::key(format!("T#{}#U#{}", key.tenant, key.user), &format!("CONN#{}", key.provider.as_str()))
}

fn account_pk(provider: Provider, account_id: &str) -> AttributeValue {
    AttributeValue::S(format!("{}#{account_id}", provider.as_str()))
}

/// What [`ACCOUNT_INDEX`] projects of a connection item.
#[derive(serde::Deserialize)]
struct AccountIndexEntry {
    tenant_id: String,
    user_id: String,
    provider: String,
}

#[async_trait]
impl ConnectionStore for DynamoDbStore {
    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn get_connection(&self, key: &ConnectionKey) -> Result<Option<ConnectionRecord>, StoreError> {
        let Some(item) = self.get_item(connection_key(key)).await? else { return Ok(None) };
        from_item::<StoredConnection>(item)?.into_record(key).map(Some)
    }

    #[tracing::instrument(
        skip_all,
        fields(table = %self.table, tenant = %record.key.tenant, user = %record.key.user, version = record.version)
    )]
    async fn put_connection(&self, record: &ConnectionRecord, condition: WriteCondition) -> Result<(), StoreError> {
        let mut key = connection_key(&record.key);
        key.insert(ACCOUNT_PK.to_owned(), account_pk(record.key.provider, &record.account_id));
        key.insert(TENANT_PK.to_owned(), tenant_pk(&record.key.tenant));
        key.insert(USER_SK.to_owned(), user_sk(&record.key.user, record.key.provider));
        let item = to_item(&StoredConnection::from_record(record), key);
        self.put_item_if(item, condition, "version").await
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user))]
    async fn delete_connection(&self, key: &ConnectionKey) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(key)))
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
        // The attribute names are the form's field names.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(key)))
            .update_expression("SET #lease = :until")
            .condition_expression("#version = :version AND (attribute_not_exists(#lease) OR #lease <= :now)")
            .expression_attribute_names("#lease", "refresh_lease_until")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":until", value(EpochMillis(until)))
            .expression_attribute_values(":now", value(EpochMillis(now)))
            .expression_attribute_values(":version", value(version))
            .send()
            .await;
        Ok(conditional("UpdateItem", result)?.is_some())
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, provider = %provider))]
    async fn connections_of_account(
        &self,
        provider: Provider,
        account_id: &str,
    ) -> Result<Vec<ConnectionKey>, StoreError> {
        let mut keys = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(ACCOUNT_INDEX)
                .key_condition_expression("#account = :account")
                .expression_attribute_names("#account", ACCOUNT_PK)
                .expression_attribute_values(":account", account_pk(provider, account_id))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| sdk_unavailable("Query", err))?;
            for item in output.items.unwrap_or_default() {
                let entry: AccountIndexEntry = from_item(item)?;
                keys.push(owner(&entry.tenant_id, &entry.user_id, &entry.provider)?);
            }
            match output.last_evaluated_key.filter(|key| !key.is_empty()) {
                Some(next) => start = Some(next),
                None => return Ok(keys),
            }
        }
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %key.tenant, user = %key.user, version))]
    async fn record_use(
        &self,
        key: &ConnectionKey,
        version: u64,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(key)))
            .update_expression("SET #used = :at")
            .expression_attribute_names("#used", "last_used_at")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":at", value(at))
            .expression_attribute_values(":version", value(version));
        let request = match previous {
            None => request.condition_expression("#version = :version AND attribute_not_exists(#used)"),
            Some(previous) => request
                .condition_expression("#version = :version AND #used = :previous")
                .expression_attribute_values(":previous", value(previous)),
        };
        Ok(conditional("UpdateItem", request.send().await)?.is_some())
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, tenant = %tenant))]
    async fn list_connections(&self, tenant: &TenantId, query: &ConnectionQuery) -> Result<ConnectionPage, StoreError> {
        let mut filters = Vec::new();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(TENANT_INDEX)
            .key_condition_expression("#tenant = :tenant")
            .expression_attribute_names("#tenant", TENANT_PK)
            .expression_attribute_values(":tenant", tenant_pk(tenant));
        if let Some(provider) = query.provider {
            filters.push("#provider = :provider");
            request = request
                .expression_attribute_names("#provider", "provider")
                .expression_attribute_values(":provider", AttributeValue::S(provider.as_str().to_owned()));
        }
        if let Some(status) = query.status {
            filters.push("#status = :status");
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", AttributeValue::S(status.as_str().to_owned()));
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        let mut start = query
            .after
            .as_ref()
            .map(|(user, provider)| tenant_index_key(&ConnectionKey::new(tenant.clone(), user.clone(), *provider)));
        // One more than a page tells whether another page follows. A filter applies after
        // `Limit`, so a query may come back short with more to read: read on until full.
        let wanted = query.limit + 1;
        let mut connections = Vec::new();
        loop {
            let output = request
                .clone()
                .limit(i32::try_from(wanted - connections.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| sdk_unavailable("Query", err))?;
            for item in output.items.unwrap_or_default() {
                let summary = from_item::<StoredConnectionSummary>(item)?.into_summary()?;
                if &summary.key.tenant != tenant {
                    return Err(StoreError::Corrupt("tenant_id disagrees with tenant_pk".to_owned()));
                }
                connections.push(summary);
            }
            match output.last_evaluated_key.filter(|key| !key.is_empty()) {
                Some(next) if connections.len() < wanted => start = Some(next),
                _ => break,
            }
        }
        let more = connections.len() > query.limit;
        connections.truncate(query.limit);
        Ok(ConnectionPage { connections, more })
    }
}

/// The non-key attributes [`TENANT_INDEX`] projects.
pub(super) fn tenant_index_projection() -> impl Iterator<Item = &'static str> {
    SUMMARY_ATTRIBUTES.into_iter()
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;
    use crate::domain::{Provider, TenantId, UserId};
    use crate::ports::{ConnectionStatus, SealedSecret};

    #[test]
    fn an_item_from_before_providers_were_neutral_still_reads() {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let b = |v: &[u8]| AttributeValue::B(Blob::new(v.to_vec()));
        let item = [
            ("pk", s("T#t1#U#u1")),
            ("sk", s("CONN#google")),
            ("tenant_id", s("t1")),
            ("user_id", s("u1")),
            ("provider", s("google")),
            ("version", AttributeValue::N("3".to_owned())),
            ("status", s("connected")),
            ("google_account_id", s("1001")),
            ("scopes", AttributeValue::L(vec![s("openid")])),
            ("connected_at", s("2026-01-01T00:00:00Z")),
            ("updated_at", s("2026-01-02T00:00:00.5Z")),
            ("refresh_lease_until", AttributeValue::N("1767225630123".to_owned())),
            ("tokens_ct", b(&[1, 2, 3])),
            ("tokens_nonce", b(&[9; 12])),
            ("tokens_edk", b(&[4, 5])),
            ("tokens_key_id", s("arn:aws:kms:us-east-1:000000000000:key/k")),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        let key = ConnectionKey::new(TenantId::parse("t1").unwrap(), UserId::parse("u1").unwrap(), Provider::Google);

        let record = from_item::<StoredConnection>(item).unwrap().into_record(&key).unwrap();

        assert_eq!(
            record,
            ConnectionRecord {
                key,
                version: 3,
                status: ConnectionStatus::Connected,
                account_id: "1001".to_owned(),
                organisation_id: None,
                email: None,
                scopes: vec!["openid".to_owned()],
                connected_at: "2026-01-01T00:00:00Z".parse().unwrap(),
                updated_at: "2026-01-02T00:00:00.5Z".parse().unwrap(),
                last_error: None,
                last_used_at: None,
                access_token_expires_at: None,
                selected_calendar_id: None,
                refresh_lease_until: Some("2026-01-01T00:00:30.123Z".parse().unwrap()),
                sealed_tokens: SealedSecret {
                    ciphertext: vec![1, 2, 3],
                    nonce: [9; 12],
                    encrypted_data_key: vec![4, 5],
                    key_id: "arn:aws:kms:us-east-1:000000000000:key/k".to_owned(),
                },
            }
        );
    }
}
