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

/// What Google's error answer says: its status, `Retry-After` in seconds (when given) and the
/// first `error.errors[].reason` (empty when the body has none). Calendar and Gmail each map it
/// to their own error.
pub(crate) struct Refusal {
    pub status: reqwest::StatusCode,
    pub retry_after: Option<Duration>,
    pub reason: String,
}

impl Refusal {
    pub(crate) async fn read(response: reqwest::Response) -> Self {
        #[derive(serde::Deserialize, Default)]
        struct Body {
            #[serde(default)]
            error: ErrorBody,
        }
        #[derive(serde::Deserialize, Default)]
        struct ErrorBody {
            #[serde(default)]
            errors: Vec<ErrorItem>,
        }
        #[derive(serde::Deserialize)]
        struct ErrorItem {
            #[serde(default)]
            reason: String,
        }
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let reason = response
            .json::<Body>()
            .await
            .ok()
            .and_then(|b| b.error.errors.into_iter().next())
            .map(|e| e.reason)
            .unwrap_or_default();
        Self { status, retry_after, reason }
    }
}
