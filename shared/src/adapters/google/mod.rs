//! Google over HTTPS: OAuth 2.0 / OpenID Connect ([`oauth`]), the Calendar API
//! ([`calendar`]) and Gmail's send ([`gmail`]), sharing one HTTP client.
//!
//! Every endpoint comes from [`crate::config::GoogleConfig`], so the same code talks to Google
//! or to any Google-compatible server (the bundled emulator). Google's own limits and aliases
//! live here and nowhere else: the `primary` calendar's handling in FreeBusy, the FreeBusy
//! window and the 50-calendar limit ([`calendar::free_busy_requests`]).

pub mod calendar;
mod event_wire;
pub mod gmail;
pub mod oauth;

use std::time::Duration;

/// Builds the one HTTP client calbridge uses for a provider: rustls, no redirects, a timeout.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .build()
        .expect("the HTTP client configuration is static and valid")
}
