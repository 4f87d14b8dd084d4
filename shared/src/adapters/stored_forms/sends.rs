//! The stored form of a [`SendRecord`] (an Idempotency-Key of `POST /messages/send`).
//!
//! Contract: `state` is `sending` (with `lease_until`), `sent` (with `message_id` and
//! `thread_id`) or `unknown`; `fingerprint` is the request's keyed hash; `expires_at` is when
//! the key may be used again. No part of the message (addresses, subject, bodies) is stored.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::invalid;
use crate::ports::{SendRecord, SendState, SentMessage, StoreError};

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredSend {
    fingerprint: String,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thread_id: Option<String>,
    expires_at: Timestamp,
}

impl StoredSend {
    pub(crate) fn from_record(record: &SendRecord) -> Self {
        let (state, lease_until, message_id, thread_id) = match &record.state {
            SendState::Sending { lease_until } => ("sending", Some(*lease_until), None, None),
            SendState::Sent(sent) => ("sent", None, Some(sent.id.clone()), Some(sent.thread_id.clone())),
            SendState::Unknown => ("unknown", None, None, None),
        };
        Self {
            fingerprint: record.fingerprint.clone(),
            state: state.to_owned(),
            lease_until,
            message_id,
            thread_id,
            expires_at: record.expires_at,
        }
    }

    #[cfg(feature = "embedded-store")]
    pub(crate) fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    pub(crate) fn into_record(self) -> Result<SendRecord, StoreError> {
        let state = match (self.state.as_str(), self.lease_until, self.message_id, self.thread_id) {
            ("sending", Some(lease_until), None, None) => SendState::Sending { lease_until },
            ("sent", None, Some(id), Some(thread_id)) => SendState::Sent(SentMessage { id, thread_id }),
            ("unknown", None, None, None) => SendState::Unknown,
            _ => return Err(invalid("state")),
        };
        Ok(SendRecord { fingerprint: self.fingerprint, state, expires_at: self.expires_at })
    }
}
