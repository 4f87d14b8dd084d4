//! The AWS section of the configuration: how long a call to DynamoDB, KMS or Secrets Manager
//! may take (`AWS_CONNECT_TIMEOUT_MS`, `AWS_ATTEMPT_TIMEOUT_MS`, `AWS_OPERATION_TIMEOUT_MS`).
//!
//! Without limits the SDK waits on a connection that accepted and never answers until Lambda
//! kills the function at 29 s, and API Gateway answers 503/504 with no body we chose. With
//! them the call fails in a few seconds with an error the adapters report as unavailable, which
//! the client sees as 503 `temporarily_unavailable` with `Retry-After`.
//!
//! The defaults, and why:
//! - attempt 2 s: one DynamoDB item read or write, a KMS `Decrypt`/`GenerateDataKey` or a
//!   Secrets Manager `GetSecretValue` answers in milliseconds to tens of milliseconds in
//!   region; 2 s is two orders of magnitude above that, yet short enough that a retry fits.
//! - operation 5 s: the SDK's standard retry (3 attempts, backoff up to 1 s before the second)
//!   gets a hung first attempt plus one full second attempt; the slowest request (a sync: four
//!   DynamoDB calls and a KMS call, each bounded) stays well inside the 29 s function timeout.
//! - connect 1 s: a TCP (+ TLS) connection to a regional endpoint takes a few milliseconds;
//!   the SDK's own default (3.1 s) would be longer than the attempt and so never fire.
//!
//! One section for all three services: their latencies are alike and one knob is easier to
//! reason about than three. The limits apply to the credential providers' calls too.

use std::time::Duration;

use super::reader::Reader;

pub(super) const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1_000;
pub(super) const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 2_000;
pub(super) const DEFAULT_OPERATION_TIMEOUT_MS: u64 = 5_000;

/// Time limits of every AWS SDK call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// Establishing one connection (TCP and TLS).
    pub connect: Duration,
    /// One attempt of an operation: sending the request and reading the whole response.
    pub attempt: Duration,
    /// The whole operation, every retry included.
    pub operation: Duration,
}

impl Default for AwsTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS),
            attempt: Duration::from_millis(DEFAULT_ATTEMPT_TIMEOUT_MS),
            operation: Duration::from_millis(DEFAULT_OPERATION_TIMEOUT_MS),
        }
    }
}

/// Reads the section. Every value has a default, so the only problems are invalid values, each
/// recorded.
pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &mut Reader<'_, F>) -> AwsTimeouts {
    let mut limit = |name: &str, default: u64| {
        let ms = env.number_or(name, default);
        if ms == 0 {
            env.problem(&format!("{name} must be at least 1 (milliseconds)"));
            return Duration::from_millis(default);
        }
        Duration::from_millis(ms)
    };
    let timeouts = AwsTimeouts {
        connect: limit("AWS_CONNECT_TIMEOUT_MS", DEFAULT_CONNECT_TIMEOUT_MS),
        attempt: limit("AWS_ATTEMPT_TIMEOUT_MS", DEFAULT_ATTEMPT_TIMEOUT_MS),
        operation: limit("AWS_OPERATION_TIMEOUT_MS", DEFAULT_OPERATION_TIMEOUT_MS),
    };
    // A limit longer than the one containing it never fires: that is a mistake, not a choice.
    if timeouts.attempt > timeouts.operation {
        env.problem("AWS_ATTEMPT_TIMEOUT_MS must not exceed AWS_OPERATION_TIMEOUT_MS");
    }
    if timeouts.connect > timeouts.attempt {
        env.problem("AWS_CONNECT_TIMEOUT_MS must not exceed AWS_ATTEMPT_TIMEOUT_MS");
    }
    timeouts
}
