//! The stored values serde has no single right form for: bytes, the sealing nonce, and lease
//! times.
//!
//! Contract: bytes are written with `serialize_bytes` (a `B` attribute in DynamoDB; the
//! embedded store's JSON writer turns them into base64 text) and read back from either bytes
//! or base64 text; a lease is a whole number of epoch milliseconds, because DynamoDB condition
//! expressions compare leases and RFC 3339 text with variable fractional digits does not sort.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::Timestamp;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Binary data: ciphertext or an encrypted data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bytes(pub Vec<u8>);

/// The 12-byte AES-GCM nonce of a sealed secret; any other length is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nonce(pub [u8; 12]);

/// A lease end, at millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EpochMillis(pub Timestamp);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `deserialize_any`, not `deserialize_bytes`: serde_json hands a string to the latter
        // as its raw text, which would read base64 as if it were the bytes.
        deserializer.deserialize_any(BytesVisitor).map(Bytes)
    }
}

impl Serialize for Nonce {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Nonce {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = deserializer.deserialize_any(BytesVisitor)?;
        let length = bytes.len();
        bytes.try_into().map(Nonce).map_err(|_| de::Error::invalid_length(length, &"12 bytes"))
    }
}

struct BytesVisitor;

impl Visitor<'_> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("bytes, or base64 text")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Self::Value, E> {
        Ok(bytes.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Self::Value, E> {
        Ok(bytes)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        // The text is not echoed: it may be long, and it is sealed material.
        B64.decode(text).map_err(|_| E::custom("text that is not base64"))
    }
}

impl Serialize for EpochMillis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0.as_millisecond())
    }
}

impl<'de> Deserialize<'de> for EpochMillis {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let millis = i64::deserialize(deserializer)?;
        Timestamp::from_millisecond(millis).map(EpochMillis).map_err(de::Error::custom)
    }
}
