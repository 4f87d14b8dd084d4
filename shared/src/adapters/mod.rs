//! Implementations of the ports: the production adapters (DynamoDB, KMS, Secrets Manager,
//! each provider over HTTPS: Google, Zoom) and the offline ones (embedded store, local key, inline
//! secrets). Production and local runs use the same code paths with different endpoints;
//! only storage, keys and secrets have offline twins, and both stores write each record in the
//! one stored form of `stored_forms`. The embedded store is behind the `embedded-store` feature
//! (on by default, off for the function binaries, which run on DynamoDB), so redb is not linked
//! into what Lambda runs. The AWS adapters' SDK clients share [`aws`]'s HTTPS client
//! and time limits.

pub mod aws;
pub mod dynamodb;
#[cfg(feature = "embedded-store")]
pub mod embedded_store;
pub mod google;
pub mod inline_secrets;
pub mod kms;
pub mod local_key;
pub mod secrets_manager;
pub(crate) mod stored_forms;
pub mod zoom;
