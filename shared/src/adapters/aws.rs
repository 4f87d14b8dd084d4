//! What every AWS SDK client of calbridge shares: one HTTPS client and the time limits.
//!
//! Contract:
//! - TLS is rustls with *ring*, the crypto provider reqwest already uses for Google and Zoom, so
//!   a function binary links one TLS crypto stack. The SDK's `default-https-client` feature
//!   would bring aws-lc-rs as a second one (a large C library in every binary, whose build has
//!   open issues under the zig cross-compiler that `cargo lambda` uses for arm64); it is
//!   off in the workspace, so an SDK client without [`https_client`] fails at its first call
//!   instead of silently bringing it back. `infra/lambda-e2e/tests/one_crypto_stack.rs` keeps
//!   the function binaries' dependency graphs free of aws-lc-rs.
//! - Every call is bounded by [`AwsTimeouts`] (connect, attempt, whole operation with its
//!   retries), so a hung endpoint costs seconds and an error, never the function's timeout.
//! - Unlike the SDK's default client this one reads no `HTTP(S)_PROXY` variables: Lambda sets
//!   none, and a developer's proxy must not capture the local stack's calls to moto.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::config::AwsTimeouts;

/// The SDK's HTTP client type (one type for every SDK crate; named through DynamoDB's).
pub use aws_sdk_dynamodb::config::SharedHttpClient;

/// The HTTPS client of every AWS SDK client: rustls with ring, native root certificates.
/// Cheap to clone; clones share the connection pool.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// `timeouts` as the SDK's timeout settings.
pub fn timeout_config(timeouts: &AwsTimeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.operation)
        .build()
}

/// The shared settings of the SDK clients, read from the environment as the SDK does
/// (region, credentials, `AWS_ENDPOINT_URL`) when [`ConfigLoader::load`] is called, with
/// calbridge's HTTPS client and time limits. Tests override the environment's part (endpoint,
/// region, credentials) on the returned loader.
pub fn config_loader(timeouts: &AwsTimeouts) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client()).timeout_config(timeout_config(timeouts))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_limit_reaches_the_sdk_settings() {
        let timeouts = AwsTimeouts {
            connect: Duration::from_millis(30),
            attempt: Duration::from_millis(400),
            operation: Duration::from_millis(1_500),
        };
        let config = timeout_config(&timeouts);
        assert_eq!(config.connect_timeout(), Some(Duration::from_millis(30)));
        assert_eq!(config.operation_attempt_timeout(), Some(Duration::from_millis(400)));
        assert_eq!(config.operation_timeout(), Some(Duration::from_millis(1_500)));
        // Reading the response is bounded by the attempt, not by a separate read limit.
        assert_eq!(config.read_timeout(), None);
    }
}
