//! The AWS SDK's HTTP client, carried by reqwest: the one HTTP/1.1 + rustls (*ring*) stack every
//! function binary already links for Google and Zoom.
//!
//! Why not the SDK's own `aws-smithy-http-client`: it always links `h2` and a second
//! hyper-rustls client (about 1 MiB of every binary), and its rustls connector loads the system
//! trust store through `rustls-native-certs` when it is built, which was most of a function's
//! start time (`infra/bench/notes.md`). DynamoDB, KMS and Secrets Manager speak HTTP/1.1 JSON,
//! so neither HTTP/2 nor the system store buys anything here; reqwest's compiled-in
//! `webpki-roots` cost no file system access at start.
//!
//! Contract (what the SDK's orchestrator relies on):
//! - one reqwest client (one connection pool) per distinct [`HttpConnectorSettings`], built on
//!   first use and reused, with the settings' connect and read timeouts; the attempt and
//!   operation timeouts stay the orchestrator's, which drops the future;
//! - no redirects (a 3xx is the SDK's to interpret) and no proxy variables (Lambda sets none, and
//!   a developer's proxy must not capture the local stack's calls to moto);
//! - request bodies are the SDK's in-memory bodies (every operation calbridge calls has one); a
//!   streaming body is refused as a user error rather than sent half-read;
//! - the response body is read whole inside the attempt (DynamoDB pages are at most 1 MB), so a
//!   slow body counts against the attempt timeout like a slow header;
//! - transport failures are classified as the SDK's retry policy expects: timeouts as timeouts,
//!   connect and body failures as I/O (retryable), a request that could not be built as a user
//!   error.

use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;

/// Idle pooled connections are dropped after this long: shorter than the 350 s after which AWS
/// endpoints and NAT close idle TCP connections, so a reused connection is rarely a dead one.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The SDK's HTTP client over reqwest. Cheap to clone; clones share the connectors.
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(ReqwestSdkClient::default())
}

#[derive(Debug, Default)]
struct ReqwestSdkClient {
    /// One connector per distinct settings seen (in practice one: every client shares the
    /// timeouts). A short list, searched linearly.
    connectors: Mutex<Vec<(Settings, SharedHttpConnector)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl HttpClient for ReqwestSdkClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        let wanted = Settings { connect: settings.connect_timeout(), read: settings.read_timeout() };
        let mut connectors = self.connectors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(settings, _)| *settings == wanted) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(ReqwestConnector { client: reqwest_client(wanted) });
        connectors.push((wanted, connector.clone()));
        connector
    }
}

fn reqwest_client(settings: Settings) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_idle_timeout(POOL_IDLE_TIMEOUT);
    if let Some(connect) = settings.connect {
        builder = builder.connect_timeout(connect);
    }
    if let Some(read) = settings.read {
        builder = builder.read_timeout(read);
    }
    builder.build().expect("the SDK HTTP client configuration is static and valid")
}

#[derive(Debug)]
struct ReqwestConnector {
    /// Cheap to clone: clones share the pool.
    client: reqwest::Client,
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move { send(&client, request).await })
    }
}

async fn send(client: &reqwest::Client, request: HttpRequest) -> Result<Response<SdkBody>, ConnectorError> {
    let request = request.try_into_http1x().map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    let body = body.bytes().map(<[u8]>::to_vec).ok_or_else(|| {
        ConnectorError::user("streaming request bodies are not supported by calbridge's SDK client".into())
    })?;
    let request = reqwest::Request::try_from(http::Request::from_parts(parts, reqwest::Body::from(body)))
        .map_err(|e| ConnectorError::user(e.into()))?;
    let response = client.execute(request).await.map_err(transport_error)?;
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.bytes().await.map_err(transport_error)?;
    let mut answer = http::Response::new(SdkBody::from(body));
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Response::try_from(answer).map_err(|e| ConnectorError::other(e.into(), None))
}

/// reqwest's error as the SDK's retry policy reads it.
fn transport_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_builder() {
        ConnectorError::user(error.into())
    } else {
        // Connect failures, resets and truncated bodies: the request may be retried.
        ConnectorError::io(error.into())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;

    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;

    use super::*;

    fn components() -> RuntimeComponents {
        RuntimeComponentsBuilder::for_tests().build().expect("test components")
    }

    /// A one-shot HTTP/1.1 server answering `answer` to the first request, handing back what
    /// it received.
    fn serve_once(answer: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut received = Vec::new();
            let mut buffer = [0u8; 4096];
            // Until the whole request is in: headers, then the test's body, which ends it.
            while !String::from_utf8_lossy(&received).ends_with("{\"TableName\":\"t\"}") {
                let n = stream.read(&mut buffer).unwrap();
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buffer[..n]);
            }
            stream.write_all(answer.as_bytes()).unwrap();
            String::from_utf8(received).unwrap()
        });
        (url, handle)
    }

    fn request(url: &str) -> HttpRequest {
        let request = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .header("content-type", "application/x-amz-json-1.0")
            .body(SdkBody::from("{\"TableName\":\"t\"}"))
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    #[tokio::test]
    async fn sends_method_headers_and_body_and_returns_status_headers_and_body() {
        let (url, server) =
            serve_once("HTTP/1.1 400 Bad Request\r\ncontent-length: 7\r\nx-amzn-requestid: r-1\r\n\r\n{\"a\":1}");
        let connector = sdk_http_client().http_connector(&HttpConnectorSettings::builder().build(), &components());

        let response = connector.call(request(&url)).await.expect("an answer");

        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("r-1"));
        assert_eq!(response.body().bytes(), Some(&b"{\"a\":1}"[..]));
        let received = server.join().unwrap().to_lowercase();
        assert!(received.starts_with("post / http/1.1\r\n"), "{received}");
        assert!(received.contains("x-amz-target: dynamodb_20120810.getitem\r\n"), "{received}");
        assert!(received.ends_with("{\"tablename\":\"t\"}"), "{received}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_retryable_io_error() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let connector = sdk_http_client().http_connector(&HttpConnectorSettings::builder().build(), &components());

        let error = connector.call(request(&format!("http://127.0.0.1:{port}/"))).await.unwrap_err();

        assert!(error.is_io(), "{error:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout_within_the_read_limit() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let settings = HttpConnectorSettings::builder().read_timeout(Duration::from_millis(100)).build();
        let connector = sdk_http_client().http_connector(&settings, &components());

        let error = connector.call(request(&url)).await.unwrap_err();

        assert!(error.is_timeout(), "{error:?}");
        drop(listener);
    }

    #[test]
    fn one_connector_per_distinct_settings() {
        let client = ReqwestSdkClient::default();
        let short = HttpConnectorSettings::builder().connect_timeout(Duration::from_millis(10)).build();
        let long = HttpConnectorSettings::builder().connect_timeout(Duration::from_secs(1)).build();
        client.http_connector(&short, &components());
        client.http_connector(&short, &components());
        client.http_connector(&long, &components());
        assert_eq!(client.connectors.lock().unwrap().len(), 2);
    }
}
