//! The two kinds of error every layer shares: the cause chain of a failure (for logs) and
//! input that can never succeed (for the client).
//!
//! Contract: a failure is logged once, where it is answered, as [`ErrorChain`] (`outer:
//! inner: root`); clients never see it. An [`InputError`] is the opposite: its stable `code`
//! and plain `message` are exactly what the client gets, with status 400, so it must never
//! carry a secret or another tenant's data.

use std::fmt;

/// Displays an error with its whole `source()` chain: `outer: inner: root`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Input that can never succeed, as the client is told: a stable snake_case code and a plain
/// message. Not retried, never logged as a failure of calbridge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    pub code: &'static str,
    pub message: String,
}

impl InputError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// The generic code for malformed input.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("invalid_request", message)
    }
}
