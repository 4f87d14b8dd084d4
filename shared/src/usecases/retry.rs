//! Retrying Google calls: capped, jittered exponential backoff inside a deadline.
//!
//! Only errors that say "try again" are retried (429, 403 rate-limit reasons, 5xx, timeouts,
//! connection failures); 400/404/409 and authorization errors never are. A `Retry-After` from
//! Google is honoured when it fits the deadline. The deadline is shorter than the API Gateway
//! integration timeout (30 s), so a user-facing request that runs out of retries can still
//! answer 503 with `Retry-After` instead of being cut off by the gateway.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::ports::GoogleApiError;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First backoff; doubled after every failed attempt.
    pub base: Duration,
    /// No single wait exceeds this.
    pub cap: Duration,
    /// Total time allowed for all attempts and waits.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::from_millis(200), cap: Duration::from_secs(2), budget: Duration::from_secs(8) }
    }
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails permanently, or the budget is spent; returns the
    /// last error in the last two cases.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, GoogleApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GoogleApiError>>,
    {
        let deadline = Instant::now() + self.budget;
        let mut backoff = self.base;
        loop {
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) if !error.is_retryable() => return Err(error),
                Err(error) => error,
            };
            // Full jitter: a uniformly random wait up to the current backoff, so many clients
            // that failed together do not retry together.
            let jittered = backoff.mul_f64(jitter());
            let wait = match &error {
                GoogleApiError::RateLimited { retry_after: Some(after) } => (*after).max(jittered),
                _ => jittered,
            }
            .min(self.cap);
            if Instant::now() + wait >= deadline {
                tracing::warn!(error = %crate::http::ErrorChain(&error), "google: giving up after retries");
                return Err(error);
            }
            tracing::info!(wait_ms = wait.as_millis() as u64, error = %error, "google: retrying");
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(self.cap);
        }
    }
}

/// A uniform number in [0.5, 1.0]: never a zero wait, never more than the backoff.
fn jitter() -> f64 {
    let [a, b] = crate::crypto::random::bytes::<2>();
    0.5 + f64::from(u16::from_le_bytes([a, b])) / f64::from(u16::MAX) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            budget: Duration::from_millis(200),
        }
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        let calls = AtomicUsize::new(0);
        let result = fast()
            .run(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(GoogleApiError::RateLimited { retry_after: None }),
                    1 => Err(GoogleApiError::Unavailable("503".into())),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn never_retries_permanent_errors() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = fast()
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(GoogleApiError::NotFound)
            })
            .await;
        assert!(matches!(result, Err(GoogleApiError::NotFound)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stops_at_the_budget() {
        let calls = AtomicUsize::new(0);
        let started = Instant::now();
        let result: Result<(), _> = fast()
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(GoogleApiError::Unavailable("500".into()))
            })
            .await;
        assert!(matches!(result, Err(GoogleApiError::Unavailable(_))));
        assert!(calls.load(Ordering::SeqCst) > 3, "it retried");
        assert!(started.elapsed() < Duration::from_secs(2), "it stopped near the 200 ms budget");
    }
}
