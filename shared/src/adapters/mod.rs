//! Implementations of the ports: the production adapters (DynamoDB, KMS, Secrets Manager,
//! Google over HTTPS) and the offline ones (embedded store, local key). Production and local
//! runs use the same code paths with different endpoints; only storage has an offline twin.

pub mod dynamodb;
pub mod embedded_store;
pub mod google_calendar;
pub mod google_oauth;
pub mod kms;
pub mod local_key;
pub mod secrets_manager;
