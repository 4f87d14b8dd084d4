//! calbridge: per-user connections to Google (Calendar, Meet, Gmail's send) and other providers
//! for apps, as AWS Lambda functions.
//!
//! This crate is everything but the wiring of the binaries in `functions/`. Its layers only
//! point down:
//!
//! - [`handlers`]: one per Lambda function, request -> use case -> response; [`runtime`] is the
//!   Lambda bootstrap they share, [`http`] the edge (caller, routing, errors -> responses).
//! - [`usecases`]: connect, access tokens, calendar session, calendars, availability and slots,
//!   sync, meetings, mail (send from the user's Gmail once per Idempotency-Key), retry, Zoom
//!   webhooks.
//! - [`ports`]: one trait per outside system (stores and their records, keys, secrets, OAuth,
//!   Google Calendar, Gmail and its send records, clock).
//! - [`adapters`]: DynamoDB, KMS, Secrets Manager, Google and Zoom over HTTPS; the embedded store,
//!   local key and inline secrets offline. [`fakes`] are the in-process test doubles.
//! - [`crypto`] (vault, sealed tokens, OAuth state, randomness, Zoom's webhook signature), [`domain`] (values parsed at
//!   the edge: ids, [`domain::Provider`], intervals, return URLs, event text), [`errors`] (the
//!   error chain and input errors), [`config`] (every environment variable, read once) and
//!   [`app`] (the ports wired from config, built once per container); [`metrics`] is
//!   calbridge's CloudWatch metrics (EMF lines on stdout), every name and dimension in one file.

pub mod adapters;
pub mod app;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod errors;
pub mod fakes;
pub mod handlers;
pub mod http;
pub mod metrics;
pub mod ports;
pub mod runtime;
pub mod usecases;
