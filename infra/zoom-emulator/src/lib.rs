//! An offline, strict stand-in for the parts of Zoom that calbridge talks to:
//! OAuth for user-managed apps (authorization with a consent page, token with
//! PKCE and rotating refresh tokens, revoke), the REST API (`users/me`, scheduled
//! meetings) and signed webhooks (`app_deauthorized`, `endpoint.url_validation`).
//!
//! Contract: the emulator speaks Zoom's wire format (paths, parameters, JSON
//! shapes, `{"code","message"}` API errors, `{"reason","error"}` OAuth errors,
//! status codes), so production code reaches it by changing base URLs only, and
//! it refuses what Zoom refuses, so a test that passes here says something about
//! production. Everything lives in memory; the `/_emulator` control endpoints let
//! tests seed apps and users, queue faults (error statuses, timeouts, dropped
//! connections, lost responses), send webhooks and inspect what was issued.
//!
//! Start one with [`RunningEmulator::start`]; the `zoom-emulator` binary does the
//! same from environment variables ([`EmulatorConfig::from_env`]).

mod api;
mod config;
mod control;
mod faults;
mod oauth;
mod random;
mod server;
mod state;
mod webhooks;
mod zoom_errors;

pub use config::{
    ClientConfig, ConfigError, DEFAULT_ACCOUNT_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_LISTEN_ADDR,
    DEFAULT_REDIRECT_URI, DEFAULT_SCOPES, DEFAULT_WEBHOOK_SECRET_TOKEN, EmulatorConfig, UserConfig,
    listen_addr_from_env,
};
pub use server::RunningEmulator;
