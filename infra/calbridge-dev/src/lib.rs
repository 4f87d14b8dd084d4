//! The calbridge local stack: the whole API on localhost with no AWS and no Google.
//!
//! One process serves every function under its API Gateway path ([`gateway`]), behind an
//! authorizer stand-in ([`authorizer`]), with the Google and Zoom emulators alongside. The functions are
//! configured through the same variables as in Lambda; this crate only fills in local
//! defaults for what is not set:
//! - no `GOOGLE_AUTH_URL`/`GOOGLE_TOKEN_URL`: the emulator is started and every Google
//!   endpoint (OAuth, Calendar, Gmail's send), the client id and the client secret point at
//!   it, its client registered for both `/connections/google/callback` and
//!   `/connections/gmail/callback`;
//! - no `ZOOM_AUTH_URL`/`ZOOM_TOKEN_URL`: likewise the Zoom emulator (on
//!   `ZOOM_EMULATOR_LISTEN_ADDR`, default `127.0.0.1:8789`) with its seeded app registered for
//!   this stack's `/connections/zoom/callback`; with them, Zoom is offered only if
//!   `ZOOM_CLIENT_ID` (and its secrets) are set;
//! - no `TABLE_NAME`/`KMS_KEY_ID`: the embedded store and local key in `LOCAL_DATA_DIR`
//!   (default `.calbridge-local`); with them (and `AWS_ENDPOINT_URL`, e.g. moto) the
//!   DynamoDB + KMS adapters are used, and the table is created if missing;
//! - no `STATE_SIGNING_KEY` / `DEV_JWT_SECRET`: random ones, kept in the data directory so
//!   tokens and flows survive restarts.
//!
//! The integrations page (`web/`) is served at `/` and `/integrations`, with a demo token in
//! its `/config.json` ([`integrations_page`]); its URL is on `ALLOWED_RETURN_TO`, after
//! `/_local/done` (which stays the default return URL).
//!
//! Extra local-only routes: `POST /_local/token {"tenant_id","user_id","scope"?}` mints a
//! bearer token (`"scope":"calbridge/service"` for the tenant's service);
//! `GET /_local/done` is a page that shows the outcome of a connect flow (the default return URL).

pub mod authorizer;
pub mod gateway;
pub mod integrations_page;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use calbridge::app::App;
use calbridge::config::{Config, StorageConfig};
use google_emulator::{EmulatorConfig, RunningEmulator};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::authorizer::DevAuthorizer;
use crate::gateway::Gateway;

pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8787";
pub const DEFAULT_EMULATOR_ADDR: &str = "127.0.0.1:8788";
pub const DEFAULT_DATA_DIR: &str = ".calbridge-local";
pub const EMULATOR_CLIENT_ID: &str = "calbridge-local";
pub const EMULATOR_CLIENT_SECRET: &str = "calbridge-local-secret";
pub const DEFAULT_ZOOM_EMULATOR_ADDR: &str = "127.0.0.1:8789";
/// How long a token from `/_local/token` lives.
pub const DEV_TOKEN_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(12);

/// A running local stack.
pub struct RunningStack {
    pub base_url: String,
    /// The emulator's base URL, when the stack started one.
    pub emulator_url: Option<String>,
    /// The Zoom emulator's base URL, when the stack started one.
    pub zoom_emulator_url: Option<String>,
    pub storage: String,
    gateway: Arc<Gateway>,
    server: JoinHandle<()>,
    emulator: Option<RunningEmulator>,
    zoom_emulator: Option<zoom_emulator::RunningEmulator>,
}

impl RunningStack {
    /// A bearer token for (tenant, user), as `POST /_local/token` would mint.
    pub fn token_for(&self, tenant: &str, user: &str) -> String {
        self.gateway.authorizer.mint(tenant, user, None, DEV_TOKEN_TTL).0
    }

    /// A bearer token of the tenant's service (the default service scope), as
    /// `POST /_local/token {"tenant_id","user_id","scope":"calbridge/service"}` would mint.
    pub fn service_token(&self, tenant: &str) -> String {
        let scope = calbridge::config::DEFAULT_SERVICE_SCOPE;
        self.gateway.authorizer.mint(tenant, "app-backend", Some(scope), DEV_TOKEN_TTL).0
    }

    /// Gives the Google emulator's demo@example.com two more calendars besides its primary one,
    /// "Appointments" (writer) and "Holidays" (reader), so the integrations page has a choice
    /// to show (and one it must leave out). Only the binary does this: tests that start the
    /// stack keep the emulator's default seed. Nothing happens without an emulator.
    pub async fn seed_demo_calendars(&self) -> Result<(), StackError> {
        let Some(emulator) = &self.emulator_url else { return Ok(()) };
        let calendar = |id: &str, summary: &str, role: &str, primary: bool| json!({"id": id, "summary": summary, "timeZone": "Europe/Berlin", "accessRole": role, "primary": primary});
        reqwest::Client::new()
            .post(format!("{emulator}/_emulator/accounts"))
            .json(&json!({
                "email": "demo@example.com",
                "sub": "100000000000000000001",
                "name": "Demo User",
                "calendars": [
                    calendar("demo@example.com", "demo@example.com", "owner", true),
                    calendar("appointments@example.com", "Appointments", "writer", false),
                    calendar("holidays@example.com", "Holidays", "reader", false),
                ],
            }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(StackError::EmulatorClient)?;
        Ok(())
    }

    /// The stack's dependencies, for tests that drive a use case directly.
    pub fn app(&self) -> &App {
        &self.gateway.app
    }

    pub async fn shutdown(self) {
        self.server.abort();
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
        if let Some(emulator) = self.zoom_emulator {
            emulator.shutdown().await;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot listen on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    EmulatorConfig(#[from] google_emulator::ConfigError),
    #[error("cannot start the Google emulator")]
    Emulator(#[source] std::io::Error),
    #[error("cannot register the local OAuth client (or seed the demo calendars) with the emulator")]
    EmulatorClient(#[source] reqwest::Error),
    #[error(transparent)]
    ZoomEmulatorConfig(#[from] zoom_emulator::ConfigError),
    #[error("cannot start the Zoom emulator")]
    ZoomEmulator(#[source] std::io::Error),
    #[error("cannot prepare the local data directory {dir}")]
    DataDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] calbridge::config::ConfigError),
    #[error(transparent)]
    Startup(#[from] calbridge::app::StartupError),
    #[error("cannot create the DynamoDB table")]
    Table(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("{0} is not a socket address")]
    BadAddress(String),
}

/// Starts the stack with configuration read through `lookup` (the process environment in the
/// binary, a map in tests). Address variables may use port 0.
pub async fn start(lookup: impl Fn(&str) -> Option<String>) -> Result<RunningStack, StackError> {
    let mut vars: HashMap<String, String> = HashMap::new();
    let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

    let listen = var("LISTEN_ADDR").unwrap_or_else(|| DEFAULT_LISTEN_ADDR.to_owned());
    let listen: SocketAddr = listen.parse().map_err(|_| StackError::BadAddress(listen.clone()))?;
    let listener =
        TcpListener::bind(listen).await.map_err(|source| StackError::Listen { addr: listen.to_string(), source })?;
    let local = listener.local_addr().map_err(|source| StackError::Listen { addr: listen.to_string(), source })?;
    let base_url = format!("http://{local}");

    let data_dir = PathBuf::from(var("LOCAL_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned()));
    std::fs::create_dir_all(&data_dir).map_err(|source| StackError::DataDir { dir: data_dir.clone(), source })?;
    let redirect_uri = var("GOOGLE_REDIRECT_URI").unwrap_or_else(|| {
        format!("{base_url}{}", calbridge::handlers::auth_callback::CALLBACK.pattern.replace("{provider}", "google"))
    });
    // Gmail connects through the same emulator client, on its own callback.
    let mail_redirect_uri = var("GOOGLE_MAIL_REDIRECT_URI").unwrap_or_else(|| {
        format!("{base_url}{}", calbridge::handlers::auth_callback::CALLBACK.pattern.replace("{provider}", "gmail"))
    });

    let external_google = var("GOOGLE_AUTH_URL").is_some() || var("GOOGLE_TOKEN_URL").is_some();
    let emulator = if external_google {
        None
    } else {
        let addr = var("EMULATOR_LISTEN_ADDR").unwrap_or_else(|| DEFAULT_EMULATOR_ADDR.to_owned());
        let addr: SocketAddr = addr.parse().map_err(|_| StackError::BadAddress(addr.clone()))?;
        let emulator = RunningEmulator::start(EmulatorConfig::from_env()?, addr).await.map_err(StackError::Emulator)?;
        let e = emulator.base_url();
        register_client(&e, &[&redirect_uri, &mail_redirect_uri]).await?;
        for (name, value) in [
            ("GOOGLE_AUTH_URL", format!("{e}/o/oauth2/v2/auth")),
            ("GOOGLE_TOKEN_URL", format!("{e}/token")),
            ("GOOGLE_REVOKE_URL", format!("{e}/revoke")),
            ("GOOGLE_USERINFO_URL", format!("{e}/v1/userinfo")),
            ("GOOGLE_CALENDAR_API_URL", format!("{e}/calendar/v3")),
            ("GOOGLE_GMAIL_API_URL", format!("{e}/gmail/v1")),
            ("GOOGLE_JWKS_URL", format!("{e}/oauth2/v3/certs")),
            ("GOOGLE_CLIENT_ID", EMULATOR_CLIENT_ID.to_owned()),
            ("GOOGLE_CLIENT_SECRET", EMULATOR_CLIENT_SECRET.to_owned()),
        ] {
            vars.insert(name.to_owned(), value);
        }
        Some(emulator)
    };
    vars.insert("GOOGLE_REDIRECT_URI".into(), redirect_uri);
    vars.insert("GOOGLE_MAIL_REDIRECT_URI".into(), mail_redirect_uri);

    let zoom_redirect_uri = var("ZOOM_REDIRECT_URI").unwrap_or_else(|| {
        format!("{base_url}{}", calbridge::handlers::auth_callback::CALLBACK.pattern.replace("{provider}", "zoom"))
    });
    let external_zoom = var("ZOOM_AUTH_URL").is_some() || var("ZOOM_TOKEN_URL").is_some();
    let zoom_emulator = if external_zoom {
        None
    } else {
        let addr = var("ZOOM_EMULATOR_LISTEN_ADDR").unwrap_or_else(|| DEFAULT_ZOOM_EMULATOR_ADDR.to_owned());
        let addr: SocketAddr = addr.parse().map_err(|_| StackError::BadAddress(addr.clone()))?;
        let emulator = zoom_emulator::RunningEmulator::start(zoom_emulator::EmulatorConfig::from_env()?, addr)
            .await
            .map_err(StackError::ZoomEmulator)?;
        let z = emulator.base_url();
        register_zoom_client(&z, &zoom_redirect_uri).await?;
        for (name, value) in [
            ("ZOOM_AUTH_URL", format!("{z}/oauth/authorize")),
            ("ZOOM_TOKEN_URL", format!("{z}/oauth/token")),
            ("ZOOM_REVOKE_URL", format!("{z}/oauth/revoke")),
            ("ZOOM_API_URL", format!("{z}/v2")),
            ("ZOOM_CLIENT_ID", zoom_emulator::DEFAULT_CLIENT_ID.to_owned()),
            ("ZOOM_CLIENT_SECRET", zoom_emulator::DEFAULT_CLIENT_SECRET.to_owned()),
            ("ZOOM_WEBHOOK_SECRET_TOKEN", zoom_emulator::DEFAULT_WEBHOOK_SECRET_TOKEN.to_owned()),
        ] {
            vars.insert(name.to_owned(), value);
        }
        Some(emulator)
    };
    vars.insert("ZOOM_REDIRECT_URI".into(), zoom_redirect_uri);
    vars.insert(
        "ALLOWED_RETURN_TO".into(),
        format!("{base_url}/_local/done,calbridge-demo://connected,{base_url}{}", integrations_page::PAGE_PATH),
    );
    if var("TABLE_NAME").is_none() && var("KMS_KEY_ID").is_none() {
        vars.insert("LOCAL_DATA_DIR".into(), data_dir.display().to_string());
    }
    let secret_arn =
        var(calbridge::config::SECRET_ARN_VARIABLE).or_else(|| var(calbridge::config::DEPRECATED_SECRET_ARN_VARIABLE));
    if secret_arn.is_none() && var("STATE_SIGNING_KEY").is_none() {
        vars.insert("STATE_SIGNING_KEY".into(), local_secret(&data_dir, "state-signing.key")?);
    }
    let jwt_secret = match var("DEV_JWT_SECRET") {
        Some(secret) => secret,
        None => local_secret(&data_dir, "dev-jwt.secret")?,
    };

    // Explicit settings win over the local defaults above.
    let config = Config::from_lookup(|name| var(name).or_else(|| vars.get(name).cloned()))?;
    let storage = match &config.storage {
        StorageConfig::Aws { table_name, .. } => {
            if std::env::var_os("AWS_ENDPOINT_URL").is_some() || var("AWS_ENDPOINT_URL").is_some() {
                ensure_table(table_name).await?;
            }
            format!("DynamoDB table {table_name} + KMS")
        }
        StorageConfig::Embedded { data_dir, .. } => {
            format!("embedded ({})", data_dir.join(calbridge::app::EMBEDDED_STORE_FILE).display())
        }
    };
    let authorizer = DevAuthorizer::new(jwt_secret.as_bytes(), &config.tenant_claim);
    let app = App::from_config(config).await?;
    let gateway =
        Arc::new(Gateway { app, authorizer, api: gateway::local_api(local.port()), routes: gateway::routes() });
    let router = Router::new()
        .route("/_local/token", post(mint_token))
        .route("/_local/done", get(done_page))
        .route("/_local/events", post(deliver_event))
        .merge(integrations_page::routes(&base_url))
        .fallback(gateway::handle)
        .with_state(gateway.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "local stack server stopped");
        }
    });
    Ok(RunningStack {
        base_url,
        emulator_url: emulator.as_ref().map(RunningEmulator::base_url),
        zoom_emulator_url: zoom_emulator.as_ref().map(zoom_emulator::RunningEmulator::base_url),
        storage,
        gateway,
        server,
        emulator,
        zoom_emulator,
    })
}

async fn register_client(emulator_url: &str, redirect_uris: &[&str]) -> Result<(), StackError> {
    reqwest::Client::new()
        .post(format!("{emulator_url}/_emulator/clients"))
        .json(&json!({
            "client_id": EMULATOR_CLIENT_ID,
            "client_secret": EMULATOR_CLIENT_SECRET,
            "redirect_uris": redirect_uris,
        }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(StackError::EmulatorClient)?;
    Ok(())
}

/// Registers the Zoom emulator's seeded app (its default id, secret and webhook secret token)
/// for this stack's callback, which has the stack's port in it.
async fn register_zoom_client(emulator_url: &str, redirect_uri: &str) -> Result<(), StackError> {
    reqwest::Client::new()
        .post(format!("{emulator_url}/_emulator/clients"))
        .json(&json!({
            "client_id": zoom_emulator::DEFAULT_CLIENT_ID,
            "client_secret": zoom_emulator::DEFAULT_CLIENT_SECRET,
            "redirect_uris": [redirect_uri],
            "webhook_secret_token": zoom_emulator::DEFAULT_WEBHOOK_SECRET_TOKEN,
        }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(StackError::EmulatorClient)?;
    Ok(())
}

async fn ensure_table(table: &str) -> Result<(), StackError> {
    let aws = calbridge::adapters::aws::sdk_config(&calbridge::config::AwsTimeouts::default());
    calbridge::adapters::dynamodb::create_table(&aws_sdk_dynamodb::Client::new(&aws), table)
        .await
        .map_err(|e| StackError::Table(Box::new(e)))
}

/// A random 32-byte secret kept (base64) in `<dir>/<file>`, created on first use.
fn local_secret(dir: &Path, file: &str) -> Result<String, StackError> {
    let path = dir.join(file);
    let io = |source| StackError::DataDir { dir: dir.to_owned(), source };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = base64::engine::general_purpose::STANDARD.encode(calbridge::crypto::random::bytes::<32>());
            std::fs::write(&path, &secret).map_err(io)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            }
            Ok(secret)
        }
        Err(e) => Err(io(e)),
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    tenant_id: String,
    user_id: String,
    /// Space-separated scopes; `calbridge/service` makes the token the tenant's service.
    #[serde(default)]
    scope: Option<String>,
}

async fn mint_token(State(gateway): State<Arc<Gateway>>, body: Option<axum::Json<TokenRequest>>) -> Response {
    let Some(axum::Json(request)) = body else {
        return local_error("invalid_request", "body must be {\"tenant_id\": \"...\", \"user_id\": \"...\"}");
    };
    if calbridge::domain::TenantId::parse(&request.tenant_id).is_err()
        || calbridge::domain::UserId::parse(&request.user_id).is_err()
    {
        return local_error("invalid_request", "tenant_id and user_id must be non-empty, without '#' or whitespace");
    }
    let (token, expires_at) =
        gateway.authorizer.mint(&request.tenant_id, &request.user_id, request.scope.as_deref(), DEV_TOKEN_TTL);
    axum::Json(json!({
        "token": token,
        "expires_at": expires_at,
        "tenant_id": request.tenant_id,
        "user_id": request.user_id,
        "scope": request.scope,
    }))
    .into_response()
}

fn local_error(code: &str, message: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

#[derive(Deserialize)]
struct DoneQuery {
    status: Option<String>,
    reason: Option<String>,
}

async fn done_page(Query(query): Query<DoneQuery>) -> Html<String> {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let status = escape(query.status.as_deref().unwrap_or("unknown"));
    let reason =
        query.reason.as_deref().map(|r| format!("<p>Reason: <code>{}</code></p>", escape(r))).unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>calbridge: {status}</title></head>\
         <body><h1>Connection: {status}</h1>{reason}<p>This page stands in for your app's return URL.</p></body></html>"
    ))
}

/// `POST /_local/events`: an EventBridge event envelope, handled by sync-appointment as Lambda
/// would, with a 30-second invocation budget. 200 with the outcome, or 500 with the
/// error that would make Lambda retry.
async fn deliver_event(State(gateway): State<Arc<Gateway>>, body: axum::body::Bytes) -> Response {
    let event: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(e) => return local_error("invalid_request", &format!("body is not JSON: {e}")),
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    match calbridge::handlers::sync_appointment::handle_event(&gateway.app, event, deadline).await {
        Ok(outcome) => axum::Json(outcome).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(
                json!({"error": {"code": "sync_failed", "message": calbridge::http::ErrorChain(&error).to_string()}}),
            ),
        )
            .into_response(),
    }
}
