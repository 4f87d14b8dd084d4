//! calbridge: per-user Google Calendar and Meet connections for apps, as AWS Lambda functions.
//!
//! This crate is everything but the wiring: configuration ([`config`]), domain types
//! ([`domain`]), the ports that face AWS and Google ([`ports`]) and their adapters
//! ([`adapters`]), envelope encryption ([`vault`], [`tokens`]), the use cases ([`connect`]),
//! the HTTP edge ([`http`]) and one handler per Lambda function ([`functions`]).

pub mod access_tokens;
pub mod adapters;
pub mod app;
pub mod availability;
pub mod calendars;
pub mod config;
pub mod connect;
pub mod domain;
pub mod fakes;
pub mod functions;
pub mod http;
pub mod meetings;
pub mod oauth_state;
pub mod ports;
pub mod random;
pub mod retry;
pub mod secrets;
pub mod slots;
pub mod sync;
pub mod telemetry;
pub mod tokens;
pub mod vault;
