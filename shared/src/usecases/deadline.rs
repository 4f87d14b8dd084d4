//! The time by which the current invocation must have answered, and what is sized from it.
//!
//! Lambda gives every invocation a deadline (the context's `deadline`); past it the function is
//! killed, API Gateway answers a bare 503 of its own and whatever the work held (a sync lease, a
//! meeting claim, a token-refresh lease) stays held for its full TTL. So calbridge plans with it:
//!
//! 1. The runtime ([`crate::runtime`]) runs every request and event inside [`scope`], with the
//!    *answer-by* time = the invocation's deadline minus [`ANSWER_MARGIN`] (time to serialise the
//!    answer, flush metrics and post it to the Runtime API). An HTTP request still running then
//!    is abandoned and answered `503 deadline_exceeded` with `Retry-After`
//!    ([`crate::runtime::respond_by`]): a clear, retryable status instead of a kill.
//! 2. Retries ([`super::retry::RetryPolicy`]) never plan a wait past answer-by minus
//!    [`AFTER_CALL_RESERVE`], so a request that runs out of time answers its own specific error
//!    (Google unavailable, rate limited with Google's `Retry-After`) rather than the generic one.
//! 3. Leases are sized from the time left ([`lease_for`]): a lease outlives its holder's
//!    deadline by [`LEASE_SLACK`] at most, so the work of a killed invocation is taken over
//!    within seconds, not after a fixed TTL sized for the slowest case.
//!
//! The answer-by time is ambient (a tokio task-local) rather than an argument: it belongs to the
//! invocation, not to a use case, and only retries and leases read it. Outside a scope (unit
//! tests, tools) there is no deadline: [`answer_by`] is `None` and everything keeps its own
//! bounds (the retry budget, the lease TTLs). Work spawned onto another task does not inherit
//! the scope; calbridge fans out with `buffer_unordered` on the same task.

use std::future::Future;
use std::time::Duration;

use jiff::SignedDuration;
use tokio::time::Instant;

/// Kept back from the invocation's deadline to build the answer, flush metrics and post it.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(1_000);
/// Kept back from answer-by when planning a retry: the work after a failed call (recording a
/// sync failure, mapping the error) still has to fit.
pub const AFTER_CALL_RESERVE: Duration = Duration::from_millis(500);
/// How long a lease may outlive its holder's deadline (clock skew between store and function).
pub const LEASE_SLACK: Duration = Duration::from_secs(2);
/// A request's deadline where no Lambda context gives one (the local stack): API Gateway's
/// integration timeout less one second, the function timeout `template.yaml` sets.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(29);

tokio::task_local! {
    static ANSWER_BY: Instant;
}

/// Runs `work` with `answer_by` as the current invocation's answer-by time.
pub async fn scope<F: Future>(answer_by: Instant, work: F) -> F::Output {
    ANSWER_BY.scope(answer_by, work).await
}

/// The answer-by time of the invocation this task serves, if it runs inside [`scope`].
pub fn answer_by() -> Option<Instant> {
    ANSWER_BY.try_with(|at| *at).ok()
}

/// The answer-by time for an invocation whose Lambda deadline is `deadline`.
pub fn answer_by_for(deadline: Instant) -> Instant {
    deadline.checked_sub(ANSWER_MARGIN).unwrap_or(deadline)
}

/// The latest moment a retry or a wait for another caller's lease may plan to be done by, given
/// its own `budget` from now.
pub fn work_until(budget: Duration) -> Instant {
    let own = Instant::now() + budget;
    match answer_by() {
        Some(at) => own.min(at.checked_sub(AFTER_CALL_RESERVE).unwrap_or(at)),
        None => own,
    }
}

/// A lease's length: `max`, or less when the current invocation must answer sooner (the time
/// left plus [`LEASE_SLACK`]).
pub fn lease_for(max: SignedDuration) -> SignedDuration {
    answer_by().map_or(max, |at| lease_until(at, max))
}

/// [`lease_for`] for work bounded by an explicit `deadline`.
pub fn lease_until(deadline: Instant, max: SignedDuration) -> SignedDuration {
    let left = deadline.saturating_duration_since(Instant::now()) + LEASE_SLACK;
    SignedDuration::try_from(left).map_or(max, |left| left.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn outside_a_scope_nothing_is_shortened() {
        assert_eq!(answer_by(), None);
        assert_eq!(lease_for(SignedDuration::from_secs(120)), SignedDuration::from_secs(120));
        assert_eq!(work_until(Duration::from_secs(8)), Instant::now() + Duration::from_secs(8));
    }

    #[tokio::test(start_paused = true)]
    async fn inside_a_scope_leases_and_retries_end_with_the_invocation() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let at = answer_by_for(deadline);
        assert_eq!(at, Instant::now() + Duration::from_secs(4));
        scope(at, async {
            assert_eq!(answer_by(), Some(at));
            // 4 s left + 2 s slack, not the 120 s TTL; a short TTL stays as it is.
            assert_eq!(lease_for(SignedDuration::from_secs(120)), SignedDuration::from_secs(6));
            assert_eq!(lease_for(SignedDuration::from_secs(3)), SignedDuration::from_secs(3));
            // The retry budget is cut to answer-by minus the reserve; a short one is kept.
            assert_eq!(work_until(Duration::from_secs(8)), Instant::now() + Duration::from_millis(3_500));
            assert_eq!(work_until(Duration::from_secs(1)), Instant::now() + Duration::from_secs(1));
            tokio::time::advance(Duration::from_secs(10)).await;
            // Past the deadline: only the slack is left, and a retry plans nothing.
            assert_eq!(lease_for(SignedDuration::from_secs(120)), SignedDuration::from_secs(2));
            assert!(work_until(Duration::from_secs(8)) <= Instant::now());
        })
        .await;
        assert_eq!(answer_by(), None, "the scope ends with its work");
    }
}
