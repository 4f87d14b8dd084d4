//! Stored forms as DynamoDB items, through `serde_dynamo`: [`key`] is an item's key,
//! [`to_item`] puts a form's attributes under it, [`from_item`] reads one back, and [`value`]
//! encodes an expression value the way the forms encode attributes.
//!
//! Contract: the forms (see `stored_forms`) fix every attribute's name and type; here only the
//! key attributes are added, and an item holding a set is refused, because the forms write
//! lists and `serde_dynamo` would read a set where a list is expected.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Item;
use crate::adapters::stored_forms::read_form;
use crate::ports::StoreError;

/// The key attributes of one item.
pub(super) fn key(pk: String, sk: &str) -> Item {
    Item::from([("pk".to_owned(), AttributeValue::S(pk)), ("sk".to_owned(), AttributeValue::S(sk.to_owned()))])
}

/// `form`'s attributes under `key`.
pub(super) fn to_item(form: &impl Serialize, key: Item) -> Item {
    // Only a value that is not a struct fails to become an item, and every form is a struct.
    let mut item: Item = serde_dynamo::to_item(form).expect("a stored form becomes an item");
    item.extend(key);
    item
}

/// The form stored in `item`; the key attributes (and `ttl`) are not part of it.
pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    if let Some((name, _)) =
        item.iter().find(|(_, v)| matches!(v, AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)))
    {
        return Err(StoreError::Corrupt(format!("attribute `{name}` is a set; this table stores lists")));
    }
    let item = serde_dynamo::Item::from(item);
    read_form(serde_dynamo::Deserializer::from_attribute_value(serde_dynamo::AttributeValue::M(item.into())))
}

/// An expression value (a counter, a lease) encoded as the forms encode the attribute.
pub(super) fn value(value: impl Serialize) -> AttributeValue {
    serde_dynamo::to_attribute_value(value).expect("a number becomes an attribute value")
}
