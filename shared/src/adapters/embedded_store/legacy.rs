//! Files written before the shared stored forms: how each family's old JSON is brought into
//! the current shape before it is read. Nothing here writes; a record is rewritten in the
//! current shape the next time it is put.
//!
//! What changed, per family (everything else was already as the forms have it; old `null`s
//! read as absent):
//! - connection: the sealed tokens were one object `tokens` {`ciphertext`, `nonce`,
//!   `encrypted_data_key`, `key_id`} and are now `tokens_ct`, `tokens_nonce`, `tokens_edk`,
//!   `tokens_key_id`; `refresh_lease_until` was RFC 3339 text and is now epoch milliseconds;
//!   the oldest files have no `provider` (they were all Google's).
//! - flow: `pkce_verifier` {...} became `verifier_*` as above; no `provider` in the oldest.
//! - sync: `lease_until` was RFC 3339 text.
//! - meeting: `creating_until` (RFC 3339 text, `null` when ready) became `state` plus
//!   `lease_until` in epoch milliseconds.
//!
//! Each rule looks for the old shape only, so a current value passes through unchanged.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::json::EmbeddedForm;
use crate::adapters::stored_forms::{StoredConnection, StoredFlow, StoredMeeting, StoredSync};
use crate::domain::Provider;

type Object = Map<String, Value>;

impl EmbeddedForm for StoredConnection {
    fn upgrade(object: &mut Object) {
        default_provider(object);
        unnest_sealed(object, "tokens", "tokens");
        rfc3339_to_millis(object, "refresh_lease_until");
    }
}

impl EmbeddedForm for StoredFlow {
    fn upgrade(object: &mut Object) {
        default_provider(object);
        unnest_sealed(object, "pkce_verifier", "verifier");
    }
}

impl EmbeddedForm for StoredSync {
    fn upgrade(object: &mut Object) {
        rfc3339_to_millis(object, "lease_until");
    }
}

impl EmbeddedForm for StoredMeeting {
    fn upgrade(object: &mut Object) {
        if object.contains_key("state") {
            return;
        }
        let state = match object.remove("creating_until") {
            Some(lease @ Value::String(_)) => {
                object.insert("lease_until".to_owned(), lease);
                rfc3339_to_millis(object, "lease_until");
                "creating"
            }
            _ => "ready",
        };
        object.insert("state".to_owned(), state.into());
    }
}

fn default_provider(object: &mut Object) {
    object.entry("provider").or_insert_with(|| Provider::Google.as_str().into());
}

/// `old: {ciphertext, nonce, encrypted_data_key, key_id}` (or `null`) becomes `{prefix}_ct`,
/// `{prefix}_nonce`, `{prefix}_edk` and `{prefix}_key_id`; the base64 text stays as it was.
fn unnest_sealed(object: &mut Object, old: &str, prefix: &str) {
    let parts = match object.remove(old) {
        Some(Value::Object(parts)) => parts,
        Some(other) if !other.is_null() => {
            // Not the old shape: leave it for the form to refuse.
            object.insert(old.to_owned(), other);
            return;
        }
        _ => return,
    };
    for (from, to) in [("ciphertext", "ct"), ("nonce", "nonce"), ("encrypted_data_key", "edk"), ("key_id", "key_id")] {
        if let Some(value) = parts.get(from) {
            object.insert(format!("{prefix}_{to}"), value.clone());
        }
    }
}

/// An RFC 3339 lease becomes epoch milliseconds; text that does not parse is left for the form
/// to refuse, naming the attribute.
fn rfc3339_to_millis(object: &mut Object, name: &str) {
    let millis = match object.get(name) {
        Some(Value::String(text)) => text.parse::<Timestamp>().map(|at| at.as_millisecond()),
        _ => return,
    };
    if let Ok(millis) = millis {
        object.insert(name.to_owned(), millis.into());
    }
}

#[cfg(test)]
mod tests {
    //! Values exactly as the store wrote them before the shared stored forms.

    use super::super::json::{decode, encode};
    use super::*;
    use crate::domain::{ConnectionKey, SessionId, TenantId, UserId};
    use crate::ports::{
        ConnectionRecord, ConnectionStatus, FlowKind, FlowRecord, MeetingCreator, MeetingRecord, MeetingState,
        SealedSecret, SyncRecord, SyncStatus,
    };

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn key() -> ConnectionKey {
        ConnectionKey::new(TenantId::parse("t1").unwrap(), UserId::parse("u1").unwrap(), Provider::Google)
    }

    fn sealed() -> SealedSecret {
        SealedSecret {
            ciphertext: vec![1, 2, 3],
            nonce: [9; 12],
            encrypted_data_key: vec![4, 5],
            key_id: "local:x".into(),
        }
    }

    const OLD_SEALED: &str =
        r#"{"ciphertext":"AQID","nonce":"CQkJCQkJCQkJCQkJ","encrypted_data_key":"BAU=","key_id":"local:x"}"#;

    #[test]
    fn an_old_connection_reads_and_is_written_back_in_the_current_shape() {
        let old = format!(
            r#"{{"tenant_id":"t1","user_id":"u1","provider":"google","version":7,"status":"connected","account_id":"1001","email":null,"scopes":["openid"],"connected_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00.5Z","last_error":null,"access_token_expires_at":null,"selected_calendar_id":null,"refresh_lease_until":"2026-01-01T00:00:30.123Z","tokens":{OLD_SEALED}}}"#
        );
        let record = decode::<StoredConnection>(old.as_bytes()).unwrap().into_record(&key()).unwrap();
        let expected = ConnectionRecord {
            key: key(),
            version: 7,
            status: ConnectionStatus::Connected,
            account_id: "1001".into(),
            organisation_id: None,
            email: None,
            scopes: vec!["openid".into()],
            connected_at: at("2026-01-01T00:00:00Z"),
            updated_at: at("2026-01-02T00:00:00.5Z"),
            last_error: None,
            last_used_at: None,
            access_token_expires_at: None,
            selected_calendar_id: None,
            refresh_lease_until: Some(at("2026-01-01T00:00:30.123Z")),
            sealed_tokens: sealed(),
        };
        assert_eq!(record, expected);

        let current = String::from_utf8(encode(&StoredConnection::from_record(&record)).unwrap()).unwrap();
        assert_eq!(
            current,
            r#"{"tenant_id":"t1","user_id":"u1","provider":"google","version":7,"status":"connected","account_id":"1001","scopes":["openid"],"connected_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00.5Z","refresh_lease_until":1767225630123,"tokens_ct":"AQID","tokens_nonce":"CQkJCQkJCQkJCQkJ","tokens_edk":"BAU=","tokens_key_id":"local:x"}"#
        );
        assert_eq!(decode::<StoredConnection>(current.as_bytes()).unwrap().into_record(&key()).unwrap(), expected);
    }

    #[test]
    fn a_connection_from_before_providers_were_stored_is_google_s() {
        let oldest = format!(
            r#"{{"tenant_id":"t1","user_id":"u1","version":1,"status":"needs_reconnect","account_id":"1001","email":"a@example.com","scopes":[],"connected_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","last_error":"invalid_grant","access_token_expires_at":"2026-01-01T01:00:00Z","tokens":{OLD_SEALED}}}"#
        );
        let record = decode::<StoredConnection>(oldest.as_bytes()).unwrap().into_record(&key()).unwrap();
        assert_eq!(record.key.provider, Provider::Google);
        assert_eq!((record.selected_calendar_id, record.refresh_lease_until), (None, None));
        assert_eq!(record.sealed_tokens, sealed());
    }

    #[test]
    fn old_flows_read_with_and_without_a_verifier() {
        let state = format!(
            r#"{{"id_hash":"ab","tenant_id":"t1","user_id":"u1","return_to":"https://app.example/done","login_hint":"ana@example.com","browser_binding_hash":"cd","pkce_verifier":{OLD_SEALED},"expires_at":"2026-05-01T12:00:30.9Z"}}"#
        );
        let record = decode::<StoredFlow>(state.as_bytes()).unwrap().into_record(FlowKind::OAuthState, "ab").unwrap();
        assert_eq!(
            record,
            FlowRecord {
                kind: FlowKind::OAuthState,
                id_hash: "ab".into(),
                owner: key(),
                return_to: "https://app.example/done".into(),
                login_hint: Some("ana@example.com".into()),
                account_label: None,
                browser_binding_hash: Some("cd".into()),
                sealed_pkce_verifier: Some(sealed()),
                expires_at: at("2026-05-01T12:00:30.9Z"),
            }
        );

        let ticket = r#"{"id_hash":"ab","tenant_id":"t1","user_id":"u1","provider":"google","return_to":"myapp://x","login_hint":null,"browser_binding_hash":null,"pkce_verifier":null,"expires_at":"2099-01-01T00:00:00Z"}"#;
        let record =
            decode::<StoredFlow>(ticket.as_bytes()).unwrap().into_record(FlowKind::LaunchTicket, "ab").unwrap();
        assert_eq!((record.login_hint, record.sealed_pkce_verifier), (None, None));
    }

    #[test]
    fn an_old_sync_reads_its_rfc3339_lease() {
        let old = r#"{"tenant_id":"t1","appointment_id":"a-1","revision":2,"version":5,"user_id":"staff-9","calendar_id":null,"google_event_id":"cb01","status":"synced","last_synced_at":"2026-03-01T10:11:12.123456789Z","error":null,"attempts":1,"lease_until":"2026-03-01T10:11:42.5Z"}"#;
        let record = decode::<StoredSync>(old.as_bytes()).unwrap().into_record().unwrap();
        assert_eq!(
            record,
            SyncRecord {
                tenant: TenantId::parse("t1").unwrap(),
                appointment_id: crate::domain::AppointmentId::parse("a-1").unwrap(),
                revision: 2,
                version: 5,
                user_id: UserId::parse("staff-9").unwrap(),
                calendar_id: None,
                google_event_id: "cb01".into(),
                status: SyncStatus::Synced,
                last_synced_at: Some(at("2026-03-01T10:11:12.123456789Z")),
                error: None,
                attempts: 1,
                lease_until: Some(at("2026-03-01T10:11:42.5Z")),
            }
        );
    }

    #[test]
    fn old_meetings_read_as_creating_or_ready() {
        let meeting = |creating_until: &str| {
            format!(
                r#"{{"tenant_id":"t1","session_id":"s-1","revision":1,"creating_until":{creating_until},"host_user_id":"coach-1","participant_user_ids":["client-1"],"provider":"google_meet","meeting_url":null,"conference_id":null,"calendar_event_id":null,"calendar_id":null,"request_id":"req-1","created_at":"2026-03-01T10:11:12Z","updated_at":"2026-03-01T10:11:12Z"}}"#
            )
        };
        let creating = decode::<StoredMeeting>(meeting(r#""2026-03-01T10:11:42.5Z""#).as_bytes()).unwrap();
        let creating = creating.into_record().unwrap();
        assert_eq!(
            creating,
            MeetingRecord {
                tenant: TenantId::parse("t1").unwrap(),
                session_id: SessionId::parse("s-1").unwrap(),
                revision: 1,
                state: MeetingState::Creating { lease_until: at("2026-03-01T10:11:42.5Z") },
                host_user_id: UserId::parse("coach-1").unwrap(),
                participant_user_ids: vec![UserId::parse("client-1").unwrap()],
                created_by: MeetingCreator::Host,
                provider: "google_meet".into(),
                meeting_url: None,
                conference_id: None,
                calendar_event_id: None,
                calendar_id: None,
                request_id: Some("req-1".into()),
                schedule: None,
                made_with: None,
                created_at: at("2026-03-01T10:11:12Z"),
                updated_at: at("2026-03-01T10:11:12Z"),
            }
        );
        let ready = decode::<StoredMeeting>(meeting("null").as_bytes()).unwrap().into_record().unwrap();
        assert_eq!(ready.state, MeetingState::Ready);
    }

    #[test]
    fn a_malformed_value_is_corrupt_naming_the_attribute() {
        let bad_nonce = r#"{"tenant_id":"t1","user_id":"u1","provider":"google","version":1,"status":"connected","account_id":"1","scopes":[],"connected_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","tokens_ct":"AQID","tokens_nonce":"AQID","tokens_edk":"BAU=","tokens_key_id":"k"}"#;
        match decode::<StoredConnection>(bad_nonce.as_bytes()) {
            Err(crate::ports::StoreError::Corrupt(what)) => assert!(what.contains("tokens_nonce"), "{what}"),
            other => panic!("expected Corrupt, got {:?}", other.map(|_| ())),
        }
    }
}
