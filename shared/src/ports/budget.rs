//! A budget of provider API calls per connection (tenant, user, provider) and minute, shared
//! by every container, so that one caller cannot spend the whole tenant's quota at Google.
//!
//! Contract: windows are whole UTC minutes ([`minute_window`]). [`CallBudget::spend`] adds
//! `calls` to the key's counter of the minute holding `now` only if the counter stays within
//! `limit`, atomically: of concurrent spenders the calls granted in one minute never exceed
//! `limit`. A refused spend adds nothing and answers [`BudgetError::Exhausted`] with the time
//! to the next window (at least a second); a spend of more than `limit` is always refused.
//! Keys never share a counter. A past minute's counter is never read again (DynamoDB reaps it
//! through `ttl`).

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreError;
use crate::domain::ConnectionKey;

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// This minute's calls are spent; the next window opens after `retry_after`.
    #[error("the provider call budget of this minute is spent")]
    Exhausted { retry_after: Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait CallBudget: Send + Sync {
    /// Spends `calls` of `key`'s `limit` for the minute holding `now`, or none of them.
    async fn spend(&self, key: &ConnectionKey, calls: u32, limit: u32, now: Timestamp) -> Result<(), BudgetError>;
}

/// The minute holding `now`: its number since the Unix epoch, and the time until the next one
/// begins, rounded up to whole seconds (at least one, as `Retry-After` counts seconds).
pub fn minute_window(now: Timestamp) -> (i64, Duration) {
    let second = now.as_second();
    let minute = second.div_euclid(60);
    let left = 60 - second.rem_euclid(60);
    (minute, Duration::from_secs(left.unsigned_abs()))
}

/// What a refused spend answers at `now`.
pub fn exhausted(now: Timestamp) -> BudgetError {
    BudgetError::Exhausted { retry_after: minute_window(now).1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_utc_minutes_and_retry_after_reaches_the_next() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let (minute, left) = minute_window(at("2026-12-01T10:00:00Z"));
        assert_eq!(left, Duration::from_secs(60));
        assert_eq!(minute_window(at("2026-12-01T10:00:59.900Z")), (minute, Duration::from_secs(1)));
        assert_eq!(minute_window(at("2026-12-01T10:01:00Z")).0, minute + 1);
        assert_eq!(minute_window(at("1969-12-31T23:59:30Z")), (-1, Duration::from_secs(30)));
    }
}
