//! In-process fakes of the ports that have no offline adapter: a clock that tests move by hand,
//! a Google OAuth server that behaves like Google where calbridge depends on it (PKCE S256
//! checked, single-use codes, granular consent, revocation) and records calls, and a Google
//! Calendar, Zoom's meetings API and Gmail's send; [`test_app`] wires them into an `App`.
//! (The store and key ports need no fake: the embedded store in memory and the local key are
//! real implementations with the same contract tests as DynamoDB and KMS.)
//!
//! Used by handler and use-case tests; compiled into the library so integration tests and the
//! benchmarks can share them. Nothing in production wiring refers to this module.

mod calendar;
mod clock;
mod gmail;
mod google_oauth;
#[cfg(feature = "embedded-store")]
mod test_app;
mod zoom_meetings;

pub use calendar::FakeCalendar;
pub use clock::ManualClock;
pub use gmail::{FakeGmail, GmailFault};
pub use google_oauth::{FakeConsent, FakeGoogle};
#[cfg(feature = "embedded-store")]
pub use test_app::{TEST_CONFIG, TestApp, test_app};
pub use zoom_meetings::{FakeZoomMeeting, FakeZoomMeetings};
