//! The current time. Injected so that expiry rules (tokens, leases, states) are tested
//! without sleeping.

use jiff::Timestamp;

/// The current time. Injected so that expiry rules are tested without sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}
