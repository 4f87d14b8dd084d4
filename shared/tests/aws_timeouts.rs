//! The AWS SDK clients are bounded in time: against an endpoint that accepts connections and
//! never answers (a hung load balancer, a stuck proxy), a DynamoDB call returns an error
//! within the configured limits instead of waiting for Lambda to kill the function.
//!
//! The clients are built exactly as the functions build them ([`aws::sdk_config`]: the
//! reqwest HTTPS client and the `AWS_*_TIMEOUT_MS` limits), with short limits so the tests are
//! quick; only endpoint, region and credentials are set here. The only timing assertion is
//! generous: the call returned, with an error, well before ten times its operation limit.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use calbridge::adapters::aws;
use calbridge::adapters::dynamodb::DynamoDbStore;
use calbridge::config::AwsTimeouts;
use calbridge::domain::{ConnectionKey, Provider, TenantId, UserId};
use calbridge::ports::{ConnectionStore, StoreError};

/// A loopback listener that accepts every connection, reads nothing and answers nothing,
/// holding the sockets open so the client sees neither a response nor a reset.
struct HungEndpoint {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl HungEndpoint {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        // Ends with the test process; it only ever blocks in accept.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Self { addr, accepted }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn dynamodb(endpoint: &HungEndpoint, timeouts: AwsTimeouts, max_attempts: u32) -> aws_sdk_dynamodb::Client {
    let config = aws::sdk_config(&timeouts)
        .to_builder()
        .endpoint_url(endpoint.url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(max_attempts))
        .build();
    aws_sdk_dynamodb::Client::new(&config)
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Runs `call`, failing the test if it is still running after ten times `operation`.
async fn bounded<T>(operation: Duration, call: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = tokio::time::timeout(operation * 10, call)
        .await
        .unwrap_or_else(|_| panic!("the call was still running after 10x its operation timeout ({operation:?})"));
    (out, started.elapsed())
}

#[tokio::test]
async fn a_dynamodb_call_to_a_hung_endpoint_fails_with_a_timeout_error() {
    // Given an endpoint that accepts and never answers, and the functions' client with a
    // 300 ms operation limit (3 attempts allowed, as by default)
    let endpoint = HungEndpoint::start();
    let timeouts = AwsTimeouts { connect: ms(100), attempt: ms(150), operation: ms(300) };
    let client = dynamodb(&endpoint, timeouts, 3).await;

    // When an item is read
    let call = client.get_item().table_name("calbridge").key("pk", AttributeValue::S("T#t#U#u".into())).send();
    let (result, elapsed) = bounded(timeouts.operation, call).await;

    // Then it is a timeout error, and the connection was made: it was the answer that never came
    let err = result.expect_err("a hung endpoint cannot answer");
    assert!(matches!(err, SdkError::TimeoutError(_)), "expected a timeout, got {err:?} after {elapsed:?}");
    assert!(endpoint.accepted() >= 1, "the client never connected, so the limit tested was not the response's");
}

#[tokio::test]
async fn a_hung_attempt_is_retried_within_the_operation_limit() {
    // Given a 100 ms attempt limit inside a 5 s operation limit, and 2 attempts allowed
    // (the standard retry waits at most 1 s before the second)
    let endpoint = HungEndpoint::start();
    let timeouts = AwsTimeouts { connect: ms(100), attempt: ms(100), operation: ms(5_000) };
    let client = dynamodb(&endpoint, timeouts, 2).await;

    // When an item is read
    let call = client.get_item().table_name("calbridge").key("pk", AttributeValue::S("T#t#U#u".into())).send();
    let (result, elapsed) = bounded(timeouts.operation, call).await;

    // Then both attempts were made, each on a fresh connection, and the call failed with a
    // timeout before the operation limit: the attempt limit, not the operation's, ended each
    let err = result.expect_err("a hung endpoint cannot answer");
    assert!(matches!(err, SdkError::TimeoutError(_)), "expected a timeout, got {err:?} after {elapsed:?}");
    assert_eq!(endpoint.accepted(), 2, "one connection per attempt");
    assert!(elapsed < timeouts.operation, "the attempts should have ended first: {elapsed:?}");
}

#[tokio::test]
async fn the_store_reports_a_hung_dynamodb_as_unavailable() {
    // Given the DynamoDB store over the functions' client, against a hung endpoint
    let endpoint = HungEndpoint::start();
    let timeouts = AwsTimeouts { connect: ms(100), attempt: ms(150), operation: ms(300) };
    let store = DynamoDbStore::new(dynamodb(&endpoint, timeouts, 3).await, "calbridge");
    let key = ConnectionKey::new(TenantId::parse("t1").unwrap(), UserId::parse("u1").unwrap(), Provider::Google);

    // When a connection is read
    let (result, _) = bounded(timeouts.operation, store.get_connection(&key)).await;

    // Then the use cases see the store as unavailable (503 temporarily_unavailable to the client)
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");
}
