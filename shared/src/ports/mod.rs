//! The traits that face the outside world, one file per outside system, each with the records
//! it carries. Each is narrow, documented, and has at least two implementations: the
//! production adapter and an offline one (embedded store, local key, in-process fakes). No
//! SDK or HTTP-client type crosses these traits, so use cases and handlers are tested without
//! AWS or a provider, and adapters are tested on the wire.
//!
//! - [`clock`]: the current time.
//! - [`keys`]: envelope-encryption keys (KMS, local key) and the sealed form they protect.
//! - [`store`], [`connections`], [`flows`], [`syncs`], [`meetings`], [`booking_links`]: the
//!   stored records and their stores (DynamoDB, embedded), with the conditional-write contract they share.
//! - [`secrets`]: client secrets, the state-signing key and the booking-link keys (Secrets Manager, inline).
//! - [`oauth`]: any provider's OAuth 2.0 endpoints (Google today).
//! - [`calendar`]: the Google Calendar API.
//! - [`zoom_meetings`]: Zoom's scheduled meetings.
//! - [`mail`]: sending mail as a user (Gmail), and the Idempotency-Key records of sends (DynamoDB, embedded).
//! - [`budget`]: the per-user, per-minute budget of provider API calls (DynamoDB, embedded).

pub mod booking_links;
pub mod budget;
pub mod calendar;
pub mod clock;
pub mod connections;
pub mod flows;
pub mod keys;
pub mod mail;
pub mod meetings;
pub mod oauth;
pub mod secrets;
pub mod store;
pub mod syncs;
pub mod zoom_meetings;

pub use booking_links::*;
pub use budget::*;
pub use calendar::*;
pub use clock::*;
pub use connections::*;
pub use flows::*;
pub use keys::*;
pub use mail::*;
pub use meetings::*;
pub use oauth::*;
pub use secrets::*;
pub use store::*;
pub use syncs::*;
pub use zoom_meetings::*;
