//! The IAM in template.yaml, checked request by request: what each function must be able to do
//! is allowed, and the neighbouring requests it has no business sending are refused.
//!
//! `lambda_runtime_flows` proves the first half for the requests the real binaries send; these
//! pin the second half, which no passing flow can show.

use std::collections::BTreeMap;

use lambda_e2e::aws::AwsCall;
use lambda_e2e::policy::{PhysicalIds, allows};
use lambda_e2e::stack::load_template;

const TABLE: &str = "calbridge-TokenTable-1";
const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/0e1d";
const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:calbridge/google-oauth-AbCdEf";
const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:calbridge-SyncQueue-1";
const QUEUE_DLQ: &str = "arn:aws:sqs:eu-west-1:123456789012:calbridge-SyncQueueDeadLetterQueue-1";
const RULE_DLQ: &str = "arn:aws:sqs:eu-west-1:123456789012:calbridge-SyncDeadLetterQueue-1";

fn ids() -> PhysicalIds {
    PhysicalIds(BTreeMap::from(
        [
            (TABLE, "TokenTable"),
            (KEY, "TokenKey"),
            (SECRET, "GoogleSecret"),
            (QUEUE, "SyncQueue"),
            (QUEUE_DLQ, "SyncQueueDeadLetterQueue"),
            (RULE_DLQ, "SyncDeadLetterQueue"),
        ]
        .map(|(p, l)| (p.to_owned(), l.to_owned())),
    ))
}

fn dynamodb(operation: &str, pk: &str) -> AwsCall {
    AwsCall {
        action: format!("dynamodb:{operation}"),
        resource: Some(TABLE.to_owned()),
        index: None,
        leading_key: Some(pk.to_owned()),
        encryption_context: None,
    }
}

fn kms(operation: &str, purpose: &str) -> AwsCall {
    let context = [("tenant_id", "clinic-42"), ("user_id", "user-7f3a"), ("provider", "google"), ("purpose", purpose)];
    AwsCall {
        action: format!("kms:{operation}"),
        resource: Some(KEY.to_owned()),
        index: None,
        leading_key: None,
        encryption_context: Some(context.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
    }
}

fn read_secret() -> AwsCall {
    AwsCall {
        action: "secretsmanager:GetSecretValue".to_owned(),
        resource: Some(SECRET.to_owned()),
        index: None,
        leading_key: None,
        encryption_context: None,
    }
}

fn sqs(operation: &str, queue: &str) -> AwsCall {
    AwsCall {
        action: format!("sqs:{operation}"),
        resource: Some(queue.to_owned()),
        index: None,
        leading_key: None,
        encryption_context: None,
    }
}

/// A query of the table's index `index` (no leading key: the index's hash key is not `pk`).
fn query_index(index: &str) -> AwsCall {
    AwsCall { index: Some(index.to_owned()), leading_key: None, ..dynamodb("Query", "") }
}

const CONNECTION: &str = "T#clinic-42#U#user-7f3a";
const FLOW: &str = "FLOW#launch#3f1c";

fn check(function: &str, call: &AwsCall) -> bool {
    allows(&load_template(), function, call, &ids()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn each_function_may_do_what_its_job_needs() {
    for (function, call) in [
        ("AuthStartFunction", dynamodb("PutItem", FLOW)),
        ("AuthStartFunction", dynamodb("DeleteItem", FLOW)),
        ("AuthStartFunction", kms("GenerateDataKey", "oauth_state")),
        ("AuthStartFunction", read_secret()),
        ("AuthCallbackFunction", dynamodb("DeleteItem", FLOW)),
        ("AuthCallbackFunction", dynamodb("PutItem", CONNECTION)),
        ("AuthCallbackFunction", kms("Decrypt", "oauth_state")),
        ("AuthCallbackFunction", kms("GenerateDataKey", "oauth_tokens")),
        ("DisconnectFunction", dynamodb("DeleteItem", CONNECTION)),
        ("DisconnectFunction", kms("Decrypt", "oauth_tokens")),
        ("DisconnectFunction", query_index("account-index")),
        ("DisconnectFunction", query_index("tenant-index")),
        ("DisconnectFunction", dynamodb("PutItem", "WEBHOOK#9f86d081884c7d65")),
        ("DisconnectFunction", read_secret()),
        ("ListCalendarsFunction", dynamodb("UpdateItem", CONNECTION)),
        ("GetAvailabilityFunction", dynamodb("UpdateItem", CONNECTION)),
        ("SyncAppointmentFunction", dynamodb("UpdateItem", CONNECTION)),
        ("CreateMeetFunction", dynamodb("UpdateItem", CONNECTION)),
        ("AuthCallbackFunction", query_index("account-index")),
        ("ListCalendarsFunction", dynamodb("UpdateItem", CONNECTION)),
        ("GetAvailabilityFunction", read_secret()),
        ("SyncAppointmentFunction", dynamodb("PutItem", "T#clinic-42#A#a-1")),
        ("CreateMeetFunction", dynamodb("DeleteItem", "T#clinic-42#S#s-1")),
        ("SendEmailFunction", dynamodb("GetItem", CONNECTION)),
        ("SendEmailFunction", dynamodb("UpdateItem", CONNECTION)),
        ("SendEmailFunction", dynamodb("PutItem", CONNECTION)),
        ("SendEmailFunction", dynamodb("DeleteItem", CONNECTION)),
        ("SendEmailFunction", kms("Decrypt", "oauth_tokens")),
        ("SendEmailFunction", kms("GenerateDataKey", "oauth_tokens")),
        ("SendEmailFunction", read_secret()),
        // The event source mapping polls with the function's role.
        ("SyncAppointmentFunction", sqs("ReceiveMessage", QUEUE)),
        ("SyncAppointmentFunction", sqs("DeleteMessage", QUEUE)),
        ("SyncAppointmentFunction", sqs("GetQueueAttributes", QUEUE)),
    ] {
        assert!(check(function, &call), "{function} must be allowed {call:?}");
    }
}

#[test]
fn nothing_beyond_the_job_is_allowed() {
    let mut extra_context = kms("Decrypt", "oauth_tokens");
    extra_context.encryption_context.as_mut().unwrap().insert("note".into(), "x".into());
    let mut no_context = kms("Decrypt", "oauth_tokens");
    no_context.encryption_context = None;
    let mut other_table = dynamodb("GetItem", CONNECTION);
    other_table.resource = Some("someone-elses-table".into());
    for (function, call, why) in [
        ("DisconnectFunction", dynamodb("PutItem", CONNECTION), "disconnect only reads and erases"),
        ("DisconnectFunction", dynamodb("PutItem", FLOW), "disconnect records webhook deliveries only"),
        (
            "DisconnectFunction",
            dynamodb("DeleteItem", "WEBHOOK#9f86d081884c7d65"),
            "a delivery is never forgotten early",
        ),
        ("DisconnectFunction", kms("GenerateDataKey", "oauth_tokens"), "disconnect never seals"),
        ("AuthStartFunction", dynamodb("GetItem", CONNECTION), "auth-start never reads connections"),
        ("AuthStartFunction", kms("GenerateDataKey", "oauth_tokens"), "auth-start seals PKCE verifiers only"),
        ("AuthStartFunction", kms("Decrypt", "oauth_state"), "auth-start never opens anything"),
        ("AuthCallbackFunction", dynamodb("GetItem", FLOW), "flows are taken by a conditional delete"),
        ("ListCalendarsFunction", dynamodb("PutItem", FLOW), "consent flows are not its business"),
        ("ListCalendarsFunction", kms("Decrypt", "oauth_state"), "PKCE verifiers are the callback's"),
        ("GetAvailabilityFunction", dynamodb("Scan", CONNECTION), "no function scans the table"),
        ("GetAvailabilityFunction", dynamodb("Query", CONNECTION), "no function queries the table"),
        ("DisconnectFunction", dynamodb("Query", CONNECTION), "only the account index is queried"),
        ("DisconnectFunction", query_index("other-index"), "only the account index"),
        (
            "DisconnectFunction",
            AwsCall { action: "dynamodb:Scan".into(), ..query_index("account-index") },
            "never scans it",
        ),
        ("AuthStartFunction", query_index("account-index"), "auth-start never reads connections"),
        ("ListCalendarsFunction", query_index("account-index"), "grants are revoked at connect and disconnect only"),
        ("AuthCallbackFunction", query_index("tenant-index"), "only disconnect lists a tenant's connections"),
        ("ListCalendarsFunction", query_index("tenant-index"), "only disconnect lists a tenant's connections"),
        ("GetAvailabilityFunction", query_index("tenant-index"), "only disconnect lists a tenant's connections"),
        (
            "DisconnectFunction",
            AwsCall { action: "dynamodb:Scan".into(), ..query_index("tenant-index") },
            "never scans the tenant index",
        ),
        ("SyncAppointmentFunction", extra_context, "the context is exactly calbridge's four keys"),
        ("SyncAppointmentFunction", no_context, "a request without context"),
        ("CreateMeetFunction", other_table, "only the stack's table"),
        ("CreateMeetFunction", dynamodb("DeleteTable", CONNECTION), "no table administration"),
        ("SyncAppointmentFunction", sqs("SendMessage", QUEUE), "only the rule sends appointment changes"),
        ("SyncAppointmentFunction", sqs("ReceiveMessage", QUEUE_DLQ), "dead letters are for operators"),
        ("SyncAppointmentFunction", sqs("SendMessage", RULE_DLQ), "nothing invokes sync asynchronously now"),
        ("SyncAppointmentFunction", sqs("PurgeQueue", QUEUE), "no queue administration"),
        ("SyncAppointmentFunction", sqs("ChangeMessageVisibility", QUEUE), "the mapping needs only three actions"),
        ("CreateMeetFunction", sqs("ReceiveMessage", QUEUE), "the queue is sync's alone"),
        ("SendEmailFunction", dynamodb("PutItem", FLOW), "consent flows are not its business"),
        ("SendEmailFunction", kms("Decrypt", "oauth_state"), "PKCE verifiers are the callback's"),
        ("SendEmailFunction", query_index("account-index"), "grants are revoked at connect and disconnect only"),
        ("SendEmailFunction", query_index("tenant-index"), "only disconnect lists a tenant's connections"),
        ("SendEmailFunction", dynamodb("Scan", CONNECTION), "no function scans the table"),
        ("SendEmailFunction", sqs("ReceiveMessage", QUEUE), "the queue is sync's alone"),
        ("GetAvailabilityFunction", sqs("DeleteMessage", QUEUE), "the queue is sync's alone"),
    ] {
        assert!(!check(function, &call), "{function} must be refused {call:?}: {why}");
    }
}

#[test]
fn the_account_administers_the_key_but_cannot_use_it() {
    let template = load_template();
    let key = template.resource("TokenKey").expect("the key");
    for statement in key["Properties"]["KeyPolicy"]["Statement"].as_array().unwrap() {
        let principal = &statement["Principal"]["AWS"];
        let is_account = principal.get("Fn::Sub").and_then(|s| s.as_str()).is_some_and(|s| s.ends_with(":root"));
        if !is_account {
            continue;
        }
        for action in statement["Action"].as_array().unwrap().iter().filter_map(|a| a.as_str()) {
            for forbidden in ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt", "kms:CreateGrant"] {
                assert!(
                    !action.starts_with(forbidden) && action != "kms:*",
                    "the account statement grants {action}: IAM policies could then use the key"
                );
            }
        }
    }
}
