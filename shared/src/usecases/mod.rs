//! What calbridge does, one module per capability. Use cases take the [`App`](crate::app::App)
//! and domain values, talk to the outside only through [`crate::ports`], and return typed
//! errors that [`crate::http`] maps to responses in one place.
//!
//! - [`connect`]: authorize -> launch -> callback, status and disconnect, for any provider.
//! - [`access_tokens`]: a valid access token per connection, refreshed once under a lease.
//! - [`calendar_session`]: Google Calendar calls with that token, retries and one refresh.
//! - [`calendars`]: the user's calendars and the selected one.
//! - [`availability`] with [`slots`]: busy time and bookable slots across users.
//! - [`booking`]: booking links, slots for someone without a login behind a signed link.
//! - [`sync`]: mirroring appointments into the assignee's calendar.
//! - [`meetings`]: a session's Meet or attached link.
//! - [`retry`]: how provider calls are retried; [`deadline`]: the invocation's answer-by time
//!   that bounds retries and sizes leases.
//! - [`zoom_webhook`]: Zoom's signed webhooks (URL validation, deauthorization).
//! - [`mail`]: sending mail from the user's own Gmail, at most once per Idempotency-Key.

pub mod access_tokens;
pub mod availability;
pub mod booking;
pub mod calendar_session;
pub mod calendars;
pub mod connect;
pub mod deadline;
pub mod mail;
pub mod meetings;
pub mod retry;
pub mod slots;
pub mod sync;
pub mod zoom_webhook;
