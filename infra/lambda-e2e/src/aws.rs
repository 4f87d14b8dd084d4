//! The stack's stateful AWS resources, created in moto as CloudFormation would create them
//! from `template.yaml`: the table, the key and the Google secret. Plus [`CountingProxy`], which
//! sits between one function and moto and counts the connections it opens, so a test can tell
//! whether a cold start talked to AWS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use tokio::net::{TcpListener, TcpStream};

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
            .region($sdk::config::Region::new(REGION))
            .endpoint_url($endpoint)
            .credentials_provider($sdk::config::Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "moto"))
            .build();
        $sdk::Client::from_conf(config)
    }};
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

    let table_name = format!("{stack_name}-TokenTable-{}", calbridge::random::token());
    calbridge::adapters::dynamodb::create_table(&dynamodb, &table_name).await.expect("moto creates the table");
    let key_arn = calbridge::adapters::kms::create_key_for_tests(&kms).await;
    let key_id = key_arn.rsplit('/').next().unwrap_or(&key_arn).to_owned();

    let signing_key = base64::engine::general_purpose::STANDARD.encode(calbridge::random::bytes::<32>());
    let value = serde_json::json!({
        "google_client_secret": GOOGLE_CLIENT_SECRET,
        "state_signing_key": signing_key,
    });
    let created = secrets
        .create_secret()
        .name(format!("{stack_name}/google-oauth-{}", calbridge::random::token()))
        .secret_string(value.to_string())
        .send()
        .await
        .expect("moto creates the secret");
    let secret_arn = created.arn.expect("CreateSecret returns the ARN");
    StackResources { table_name, key_id, key_arn, secret_arn, dynamodb }
}

/// A TCP forwarder to moto that counts the connections made through it.
pub struct CountingProxy {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream_endpoint: &str) -> std::io::Result<Self> {
        let upstream = upstream_endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Ok(Self { addr, connections, task })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
