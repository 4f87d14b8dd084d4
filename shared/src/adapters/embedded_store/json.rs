//! A stored form as a redb value: JSON, with bytes as base64 text.
//!
//! Contract: [`encode`] writes a form's bytes as base64 strings (serde_json alone writes arrays
//! of numbers); [`decode`] first lets [`EmbeddedForm::upgrade`] bring a value written before
//! the shared stored forms into their shape (see `legacy.rs`), then reads it, naming the
//! attribute that fails.

use std::io;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::unavailable;
use crate::adapters::stored_forms::read_form;
use crate::ports::StoreError;

/// A stored form as this store keeps it.
pub(super) trait EmbeddedForm: Serialize + DeserializeOwned {
    /// Rewrites, in place, a value in the JSON layout of older files; a current one is left as
    /// it is.
    fn upgrade(object: &mut Map<String, Value>);
}

pub(super) fn encode(form: &impl Serialize) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    form.serialize(&mut serde_json::Serializer::with_formatter(&mut bytes, Base64Bytes)).map_err(unavailable)?;
    Ok(bytes)
}

pub(super) fn decode<F: EmbeddedForm>(bytes: &[u8]) -> Result<F, StoreError> {
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if let Value::Object(object) = &mut value {
        F::upgrade(object);
    }
    read_form(value)
}

/// serde_json's compact output, but bytes as base64 strings (the standard alphabet, which
/// needs no JSON escaping).
struct Base64Bytes;

impl serde_json::ser::Formatter for Base64Bytes {
    fn write_byte_array<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: &[u8]) -> io::Result<()> {
        write!(writer, "\"{}\"", B64.encode(value))
    }
}
