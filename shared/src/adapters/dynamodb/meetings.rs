//! Session meeting items: pk `T#{tenant}#S#{session}`, sk `MEET`.
//! Contract: one per (tenant, session); writes and deletes are conditional on `revision`; a
//! meeting being created carries its creator's lease in `lease_until`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

use super::attributes::{Attributes, epoch_millis, number, put_optional_string, timestamp};
use super::{DynamoDbStore, Item, corrupt, sdk_unavailable};
use crate::domain::{SessionId, TenantId, UserId};
use crate::ports::{MeetingRecord, MeetingState, MeetingStore, StoreError, WriteCondition};

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
