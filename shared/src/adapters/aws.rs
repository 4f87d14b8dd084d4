//! What every AWS SDK client of calbridge shares: one HTTPS client and the time limits.
//!
//! Contract:
//! - The SDK's HTTP client is reqwest ([`sdk_http`]): the same HTTP/1.1, rustls and *ring*
//!   stack as the Google and Zoom adapters, so a function binary links one HTTP client and one
//!   TLS crypto stack. The SDK's `default-https-client` feature would bring aws-lc-rs as a
//!   second one (a large C library in every binary, whose build has open issues under the zig
//!   cross-compiler that `cargo lambda` uses for arm64); it is off in the workspace, so an SDK
//!   client without [`https_client`] fails at its first call instead of silently bringing it
//!   back. `infra/lambda-e2e/tests/one_crypto_stack.rs` keeps the function binaries'
//!   dependency graphs free of aws-lc-rs, h2 and the SDK's own hyper client.
//! - [`sdk_config`] reads the region, credentials and endpoint from the environment Lambda
//!   sets, and nothing else (no profile files, no credential-provider chain).
//! - Every call is bounded by [`AwsTimeouts`] (connect, attempt, whole operation with its
//!   retries), so a hung endpoint costs seconds and an error, never the function's timeout.
//! - Unlike the SDK's default client this one reads no `HTTP(S)_PROXY` variables: Lambda sets
//!   none, and a developer's proxy must not capture the local stack's calls to moto.

mod sdk_http;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SharedTimeSource;

use crate::config::AwsTimeouts;

/// The SDK's HTTP client type (one type for every SDK crate; named through DynamoDB's).
pub use aws_sdk_dynamodb::config::SharedHttpClient;

/// The HTTPS client of every AWS SDK client: reqwest with rustls, *ring* and the compiled-in
/// webpki root certificates. Cheap to clone; clones share the connection pool.
pub fn https_client() -> SharedHttpClient {
    sdk_http::sdk_http_client()
}

/// `timeouts` as the SDK's timeout settings.
pub fn timeout_config(timeouts: &AwsTimeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.operation)
        .build()
}

/// The shared settings of the SDK clients, from what Lambda puts in every function's
/// environment, with calbridge's HTTPS client and time limits. It makes no call and reads no
/// file.
///
/// - region: `AWS_REGION` (else `AWS_DEFAULT_REGION`);
/// - credentials: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, read when
///   first needed and cached by the clients;
/// - endpoint: `AWS_ENDPOINT_URL` when set (moto, the local stack), else the service's own;
/// - retries: the SDK's standard mode (3 attempts, exponential backoff with jitter) inside
///   the operation timeout.
///
/// Not `aws_config::load_from_env`: its default chain also looks for profiles, SSO, web
/// identity, ECS and IMDS credentials, none of which exists in Lambda, and links the STS
/// client and the profile parser into every binary (about half a megabyte). A deployment
/// whose credentials come from elsewhere than these variables is not one calbridge supports.
pub fn sdk_config(timeouts: &AwsTimeouts) -> SdkConfig {
    sdk_config_from(|name| std::env::var(name).ok().filter(|value| !value.trim().is_empty()), timeouts)
}

/// [`sdk_config`] with the environment read through `env` (tests).
pub fn sdk_config_from(env: impl Fn(&str) -> Option<String>, timeouts: &AwsTimeouts) -> SdkConfig {
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeout_config(timeouts))
        .retry_config(RetryConfig::standard())
        .sleep_impl(default_async_sleep().expect("the tokio sleep is compiled in (aws-smithy-async rt-tokio)"))
        .time_source(SharedTimeSource::default())
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()));
    if let Some(region) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
        builder = builder.region(Region::new(region));
    }
    if let Some(endpoint) = env("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
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

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    #[test]
    fn region_and_endpoint_come_from_the_lambda_variables() {
        let config = sdk_config_from(
            env(&[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ]),
            &AwsTimeouts::default(),
        );
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(
            config.credentials_provider().is_some() && config.sleep_impl().is_some() && config.http_client().is_some()
        );
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(3));

        let config = sdk_config_from(env(&[("AWS_DEFAULT_REGION", "us-east-1")]), &AwsTimeouts::default());
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert_eq!(config.endpoint_url(), None, "the service's own endpoint");
    }
}
