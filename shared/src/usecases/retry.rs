//! Retrying Google calls: capped, jittered exponential backoff inside a deadline.
//!
//! Only errors that say "try again" are retried (429, 403 rate-limit reasons, 5xx, timeouts,
//! connection failures); 400/404/409 and authorization errors never are. A `Retry-After` from
//! Google is waited out whole (it is not capped like backoff) when it fits the deadline, and
//! given up on at once when it does not, so the caller can pass it on. The deadline is the
//! policy's own budget or the invocation's answer-by time less a reserve, whichever comes first
//! ([`super::deadline::work_until`]), so a request that runs out of retries still answers
//! its own error (503, or 429 with Google's `Retry-After`) before Lambda would kill it.

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
    /// Total time allowed for all attempts and waits (further cut to the invocation's deadline).
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
        let deadline = super::deadline::work_until(self.budget);
        let mut backoff = self.base;
        loop {
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) if !error.is_retryable() => return Err(error),
                Err(error) => error,
            };
            // Full jitter: a uniformly random wait up to the current backoff, so many clients
            // that failed together do not retry together.
            let jittered = backoff.mul_f64(jitter()).min(self.cap);
            let wait = match &error {
                // Google said when: sooner is refused again, so it is waited out or given up on.
                GoogleApiError::RateLimited { retry_after: Some(after) } => (*after).max(jittered),
                _ => jittered,
            };
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
    #[tokio::test(start_paused = true)]
    async fn waits_out_a_retry_after_longer_than_the_backoff_cap_when_it_fits() {
        let calls = AtomicUsize::new(0);
        let policy = RetryPolicy { budget: Duration::from_secs(8), ..RetryPolicy::default() };
        let started = Instant::now();
        let result = policy
            .run(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(GoogleApiError::RateLimited { retry_after: Some(Duration::from_secs(5)) }),
                    _ => Ok(()),
                }
            })
            .await;
        assert!(result.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_secs(5), "waited {:?}, not the 2 s cap", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_once_on_a_retry_after_past_the_invocations_deadline() {
        let calls = AtomicUsize::new(0);
        let policy = RetryPolicy { budget: Duration::from_secs(8), ..RetryPolicy::default() };
        let started = Instant::now();
        // 3 s left to answer: Google's 5 s would not fit, though the 8 s budget would.
        let answer_by = Instant::now() + Duration::from_secs(3);
        let result: Result<(), _> = super::super::deadline::scope(
            answer_by,
            policy.run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(GoogleApiError::RateLimited { retry_after: Some(Duration::from_secs(5)) })
            }),
        )
        .await;
        assert!(
            matches!(result, Err(GoogleApiError::RateLimited { retry_after: Some(d) }) if d == Duration::from_secs(5))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(started.elapsed(), Duration::ZERO, "no wait that cannot end in time");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_retries_stop_before_the_invocations_deadline() {
        let calls = AtomicUsize::new(0);
        let policy = RetryPolicy { budget: Duration::from_secs(8), ..RetryPolicy::default() };
        let started = Instant::now();
        let answer_by = Instant::now() + Duration::from_secs(2);
        let result: Result<(), _> = super::super::deadline::scope(
            answer_by,
            policy.run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(GoogleApiError::Unavailable("503".into()))
            }),
        )
        .await;
        assert!(matches!(result, Err(GoogleApiError::Unavailable(_))));
        assert!(calls.load(Ordering::SeqCst) >= 2, "it retried while time was left");
        assert!(started.elapsed() < Duration::from_millis(1_500), "it kept the reserve: {:?}", started.elapsed());
    }
}
