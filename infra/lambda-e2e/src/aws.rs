//! The stack's stateful AWS resources, created in moto as CloudFormation would create them
//! from `template.yaml`: the table, the key and the Google secret. Plus [`RecordingProxy`], which
//! sits between one function and moto and records each request it sends, so a test can tell
//! whether a cold start talked to AWS and whether the function's IAM permissions cover what it
//! does (see `policy.rs`), and the benchmarks (infra/bench) can count AWS calls per operation.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use serde_json::Value;
use tokio::net::TcpListener;

/// Where moto listens: `MOTO_ENDPOINT`, which `infra/scripts/test.sh` exports.
///
/// # Panics
/// When it is unset: these tests never skip, so a green run always means they ran.
pub fn moto_endpoint() -> String {
    match std::env::var("MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint.trim().trim_end_matches('/').to_owned(),
        _ => panic!(
            "MOTO_ENDPOINT is not set: run the tests through infra/scripts/test.sh, which starts moto \
             (or `source infra/scripts/moto.sh && moto_start` first)"
        ),
    }
}

/// The dummy credentials and region the functions and the test use against moto.
pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

macro_rules! client_for {
    ($sdk:ident, $endpoint:expr) => {{
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            // The functions' HTTPS client: the SDK has no default one in this workspace.
            .http_client(calbridge::adapters::aws::https_client())
            .region($sdk::config::Region::new(REGION))
            .endpoint_url($endpoint)
            .credentials_provider($sdk::config::Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "moto"))
            .build();
        $sdk::Client::from_conf(config)
    }};
}

/// A Secrets Manager client for moto at `endpoint`.
pub fn secrets_manager_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    client_for!(aws_sdk_secretsmanager, endpoint)
}

/// The Google client secret of the emulator client the tests register.
pub const GOOGLE_CLIENT_SECRET: &str = "calbridge-local-secret";

/// Physical ids of what the stack would have created.
#[derive(Debug, Clone)]
pub struct StackResources {
    pub table_name: String,
    pub key_id: String,
    pub key_arn: String,
    pub secret_arn: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

/// Creates the table (`pk`/`sk`, TTL on `ttl`, as in the template), a KMS key and the Google
/// secret with the value `put-google-secret.sh` would write.
pub async fn create_stack_resources(endpoint: &str, stack_name: &str) -> StackResources {
    let dynamodb = client_for!(aws_sdk_dynamodb, endpoint);
    let kms = client_for!(aws_sdk_kms, endpoint);
    let secrets = client_for!(aws_sdk_secretsmanager, endpoint);

    let table_name = format!("{stack_name}-TokenTable-{}", calbridge::crypto::random::token());
    calbridge::adapters::dynamodb::create_table(&dynamodb, &table_name).await.expect("moto creates the table");
    let key_arn = calbridge::adapters::kms::create_key_for_tests(&kms).await;
    let key_id = key_arn.rsplit('/').next().unwrap_or(&key_arn).to_owned();

    let signing_key = base64::engine::general_purpose::STANDARD.encode(calbridge::crypto::random::bytes::<32>());
    let value = serde_json::json!({
        "google_client_secret": GOOGLE_CLIENT_SECRET,
        "state_signing_key": signing_key,
    });
    let created = secrets
        .create_secret()
        .name(format!("{stack_name}/google-oauth-{}", calbridge::crypto::random::token()))
        .secret_string(value.to_string())
        .send()
        .await
        .expect("moto creates the secret");
    let secret_arn = created.arn.expect("CreateSecret returns the ARN");
    StackResources { table_name, key_id, key_arn, secret_arn, dynamodb }
}

/// One request a function sent to AWS, as IAM sees it: the action, the resource it names,
/// and the request values the template's policy conditions test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCall {
    /// `service:Operation`, e.g. `dynamodb:GetItem` (from the `X-Amz-Target` header).
    pub action: String,
    /// The table name, key id or secret id the request names.
    pub resource: Option<String>,
    /// DynamoDB: the index a `Query`/`Scan` reads (`IndexName`); its ARN is the table's plus
    /// `/index/<name>`, which a statement on the table alone does not cover.
    pub index: Option<String>,
    /// DynamoDB: the partition key value of the item addressed (`dynamodb:LeadingKeys`).
    pub leading_key: Option<String>,
    /// KMS: the encryption context (`kms:EncryptionContext:*`, `kms:EncryptionContextKeys`).
    pub encryption_context: Option<BTreeMap<String, String>>,
}

impl AwsCall {
    /// Reads an AWS JSON-protocol request (DynamoDB, KMS and Secrets Manager all speak it).
    /// Anything else is recorded as `METHOD /path`, which no policy statement allows.
    fn from_request(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Self {
        let target = headers.get("x-amz-target").and_then(|t| t.to_str().ok()).unwrap_or_default();
        let (prefix, operation) = target.split_once('.').unwrap_or_default();
        let service = match prefix {
            p if p.starts_with("DynamoDB_") => "dynamodb",
            "TrentService" => "kms",
            "secretsmanager" => "secretsmanager",
            _ => return Self::unknown(format!("{method} {}", uri.path())),
        };
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let string = |v: &Value| v.as_str().map(str::to_owned);
        let resource = ["TableName", "KeyId", "SecretId"].iter().find_map(|k| string(&body[*k]));
        let index = string(&body["IndexName"]);
        let leading_key = ["Key", "Item"].iter().find_map(|k| string(&body[*k]["pk"]["S"]));
        let encryption_context = body["EncryptionContext"]
            .as_object()
            .map(|c| c.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect());
        Self { action: format!("{service}:{operation}"), resource, index, leading_key, encryption_context }
    }

    fn unknown(request: String) -> Self {
        Self { action: request, resource: None, index: None, leading_key: None, encryption_context: None }
    }
}

/// An HTTP proxy between one function and moto that records every AWS request passing through
/// it, so a test can tell what a cold start sent to AWS and check each request against the
/// function's IAM role and the key policy in the template.
pub struct RecordingProxy {
    pub addr: SocketAddr,
    calls: Arc<Mutex<Vec<AwsCall>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    calls: Arc<Mutex<Vec<AwsCall>>>,
}

impl RecordingProxy {
    pub async fn start(upstream_endpoint: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = ProxyState {
            upstream: upstream_endpoint.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().map_err(io_error)?,
            calls: calls.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, calls, task })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in order.
    pub fn calls(&self) -> Vec<AwsCall> {
        self.calls.lock().expect("the call log is never poisoned").clone()
    }

    /// The requests since the last `take_counts`, counted by action (`dynamodb:GetItem`, ...),
    /// and forgets them (the benchmarks count per phase).
    pub fn take_counts(&self) -> BTreeMap<String, u64> {
        let calls = std::mem::take(&mut *self.calls.lock().expect("the call log is never poisoned"));
        let mut counts = BTreeMap::new();
        for call in calls {
            *counts.entry(call.action).or_default() += 1;
        }
        counts
    }
}

fn io_error(error: reqwest::Error) -> std::io::Error {
    std::io::Error::other(error)
}

async fn forward(
    State(state): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, (StatusCode, String)> {
    let call = AwsCall::from_request(&method, &uri, &headers, &body);
    state.calls.lock().expect("the call log is never poisoned").push(call);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = state.http.request(method, format!("{}{path}", state.upstream)).body(body);
    for (name, value) in &headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let answer = request.send().await.map_err(|e| (StatusCode::BAD_GATEWAY, format!("moto: {e}")))?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING && name != header::CONNECTION {
            response = response.header(name, value);
        }
    }
    let body = answer.bytes().await.map_err(|e| (StatusCode::BAD_GATEWAY, format!("moto: {e}")))?;
    response.body(axum::body::Body::from(body)).map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()))
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
