//! A counting HTTP proxy in front of moto: every AWS call the functions make passes through it
//! and is counted by its `X-Amz-Target` (`DynamoDB_20120810.GetItem`, `TrentService.Decrypt`,
//! `secretsmanager.GetSecretValue`, ...). Counting on the wire, outside the code under test,
//! means retries and SDK-internal calls are counted too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, Method, Uri};

use crate::Error;

#[derive(Clone)]
pub struct CountingProxy {
    pub url: String,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

struct Upstream {
    base: String,
    client: reqwest::Client,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> Result<Self, Error> {
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let state = Arc::new(Upstream {
            base: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().pool_max_idle_per_host(64).build()?,
            counts: counts.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let router = Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { url, counts })
    }

    /// The counts so far, and zero them.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.counts.lock().unwrap())
    }
}

async fn forward(
    State(up): State<Arc<Upstream>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{method} {}", uri.path()));
    *up.counts.lock().unwrap().entry(operation).or_default() += 1;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = up.client.request(method, format!("{}{path}", up.base)).body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection" | "transfer-encoding") {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if !matches!(name.as_str(), "content-length" | "connection" | "transfer-encoding") {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response.body(Body::from(bytes)).unwrap()
        }
        Err(e) => Response::builder().status(502).body(Body::from(format!("proxy: {e}"))).unwrap(),
    }
}
