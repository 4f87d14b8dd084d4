//! The stored form of every record: one serde struct per record family, which both stores
//! write and read (DynamoDB through `serde_dynamo`, the embedded store as JSON), so that a
//! field is mapped in exactly one place.
//!
//! Contract: a form's field names are the stored attribute names, and its field types fix the
//! stored types: text and [`Timestamp`](jiff::Timestamp)s (RFC 3339) are strings, counters are
//! numbers, leases are [`EpochMillis`] numbers, sealed parts are [`Bytes`] and a [`Nonce`]
//! (binary in DynamoDB, base64 text in JSON), lists are lists, and a `None` is omitted, never
//! stored as NULL. A new field takes `#[serde(default)]` when it may be optional, so that items
//! written before it still read. The forms know no keys: `pk`/`sk`, the embedded keys and
//! DynamoDB's `ttl` belong to each store. A form that does not parse, or parses to no valid
//! record, is [`StoreError::Corrupt`] naming the attribute.

mod booking_links;
mod connections;
mod flows;
mod meetings;
mod sends;
mod syncs;
mod values;

use serde::{Deserialize, Deserializer};

use crate::domain::{ConnectionKey, Provider, TenantId, UserId};
use crate::ports::StoreError;

pub(crate) use booking_links::StoredBookingLink;
pub(crate) use connections::{SUMMARY_ATTRIBUTES, StoredConnection, StoredConnectionSummary};
pub(crate) use flows::StoredFlow;
pub(crate) use meetings::StoredMeeting;
pub(crate) use sends::StoredSend;
pub(crate) use syncs::{StoredPending, StoredSync};
pub(crate) use values::{Bytes, EpochMillis, Nonce};

/// Reads a form from any serde format; a failure names the attribute it happened in.
pub(crate) fn read_form<'de, T: Deserialize<'de>, D: Deserializer<'de>>(input: D) -> Result<T, StoreError> {
    serde_path_to_error::deserialize(input).map_err(|err| {
        let path = err.path().to_string();
        // A failure at the top is about the form as a whole (a missing attribute), and serde's
        // message already names it.
        if path == "." {
            StoreError::Corrupt(err.into_inner().to_string())
        } else {
            StoreError::Corrupt(format!("attribute `{path}`: {}", err.into_inner()))
        }
    })
}

/// An attribute that parsed but holds no valid value (an unknown status, a malformed id).
fn invalid(attribute: &str) -> StoreError {
    StoreError::Corrupt(format!("attribute `{attribute}` does not hold a valid value"))
}

/// The owner of a connection or flow, from its three attributes.
pub(crate) fn owner(tenant_id: &str, user_id: &str, provider: &str) -> Result<ConnectionKey, StoreError> {
    Ok(ConnectionKey::new(
        TenantId::parse(tenant_id).map_err(|_| invalid("tenant_id"))?,
        UserId::parse(user_id).map_err(|_| invalid("user_id"))?,
        Provider::parse(provider).map_err(|_| invalid("provider"))?,
    ))
}
