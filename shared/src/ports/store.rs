//! What every store port shares: the precondition of a conditional write, the store's
//! errors, and the one read-modify-write loop the use cases run on top of them.
//!
//! Contract: a store answers [`StoreError::ConditionFailed`] when a write's precondition did
//! not hold (another writer won), and never for anything else. [`retry_lost_writes`] is the
//! only place that decides how often a use case re-reads and tries again after losing.

use std::future::Future;

/// The precondition of a connection write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteCondition {
    /// Create: fails if a record exists.
    Absent,
    /// Replace: fails unless the stored record exists with exactly this version. A writer
    /// that read an older version, or whose record was deleted meanwhile, loses.
    Version(u64),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the write's condition did not hold (concurrent change)")]
    ConditionFailed,
    #[error("stored record is malformed: {0}")]
    Corrupt(String),
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Attempts of one read-modify-write before giving up on contention.
pub const WRITE_ATTEMPTS: usize = 3;

/// An error that may mean "another writer won": the attempt is worth re-running on fresh data.
pub trait LostWrite {
    fn is_lost_write(&self) -> bool;
}

impl LostWrite for StoreError {
    fn is_lost_write(&self) -> bool {
        matches!(self, StoreError::ConditionFailed)
    }
}

/// Runs `attempt` (read, change, conditional write) again while it loses a write race, at most
/// [`WRITE_ATTEMPTS`] times; the last loss is returned as is.
pub async fn retry_lost_writes<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    E: LostWrite,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(error) if error.is_lost_write() && tries < WRITE_ATTEMPTS => tries += 1,
            done => return done,
        }
    }
}

/// Waiting out another caller's lease (a token refresh, an appointment being applied, a
/// meeting being created): the waiter re-reads every `step`, and gives up at `deadline`.
pub struct LeaseWait {
    deadline: tokio::time::Instant,
    step: std::time::Duration,
}

impl LeaseWait {
    pub fn new(deadline: tokio::time::Instant, step: std::time::Duration) -> Self {
        Self { deadline, step }
    }

    /// Sleeps one step before the next read; `false`, without sleeping, when that would pass
    /// the deadline (the caller then gives up with its own error).
    pub async fn step(&self) -> bool {
        if tokio::time::Instant::now() + self.step > self.deadline {
            return false;
        }
        tokio::time::sleep(self.step).await;
        true
    }
}
