//! An offline, strict stand-in for the parts of Google that calbridge talks to:
//! the OAuth 2.0 / OpenID Connect endpoints (authorization with a consent page,
//! token, revoke, userinfo, JWKS, discovery) and Google Calendar v3
//! (calendarList, freeBusy, events), and Gmail v1's `users.messages.send`.
//!
//! Contract: the emulator speaks Google's wire format (paths, parameters, JSON
//! shapes, error bodies, status codes), so production code reaches it by changing
//! base URLs only, and it refuses what Google refuses, so a test that passes here
//! says something about production. Everything lives in memory; the `/_emulator`
//! control endpoints let tests seed data, queue faults (error statuses, timeouts,
//! dropped connections, lost responses) and inspect what was issued and stored.
//!
//! Start one with [`RunningEmulator::start`]; the `google-emulator` binary does
//! the same from environment variables ([`EmulatorConfig::from_env`]).

mod calendar;
mod config;
mod control;
mod faults;
mod gmail;
mod google_errors;
mod oauth;
mod random;
mod server;
mod signing;
mod state;

pub use config::{
    AccessRole, AccountConfig, CalendarConfig, ConfigError, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_LISTEN_ADDR, DEFAULT_REDIRECT_URI, EmulatorConfig, OAuthClientConfig, listen_addr_from_env,
};
pub use server::RunningEmulator;
pub use signing::{SIGNING_KEY_ID, SIGNING_KEY_PUBLIC_EXPONENT, SIGNING_KEY_PUBLIC_MODULUS};
