//! A stand-in for the Lambda Runtime API (2018-06-01), one per function process.
//!
//! The real runtime interface: the function's runtime long-polls
//! `GET /2018-06-01/runtime/invocation/next`, which answers with the event as body and the
//! invocation's id, deadline and function ARN in `Lambda-Runtime-*` headers; it then posts the
//! result to `.../invocation/{id}/response` or `.../invocation/{id}/error`. A runtime that cannot
//! start posts `/2018-06-01/runtime/init/error` (or simply exits). As in Lambda, one event is
//! handed out at a time, and the first `next` marks the end of the cold start.
//!
//! [`LambdaProcess`] runs the binary the way Lambda runs `bootstrap`: an explicit environment
//! (nothing inherited from the test process), `AWS_LAMBDA_RUNTIME_API` pointing here, stdout
//! and stderr collected as CloudWatch would collect them.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};

/// What the function answered for one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The body posted to `.../response`.
    Response(Value),
    /// The body posted to `.../error` (an `errorType`/`errorMessage` object).
    Error(Value),
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the function process exited ({0}) before answering")]
    Exited(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

struct Pending {
    id: String,
    event: Value,
    deadline: Duration,
    reply: oneshot::Sender<Outcome>,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// Becomes true on the first `next`: the function finished its initialisation.
    polled: watch::Sender<Option<Instant>>,
    init_error: Mutex<Option<Value>>,
    function_arn: String,
}

/// The runtime API of one function.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<Pending>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start(function_arn: String) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            polled: watch::channel(None).0,
            init_error: Mutex::new(None),
            function_arn,
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { addr, shared, sender, server })
    }

    /// When the runtime first asked for an event, if it has.
    pub fn first_poll(&self) -> watch::Receiver<Option<Instant>> {
        self.shared.polled.subscribe()
    }

    pub fn init_error(&self) -> Option<Value> {
        self.shared.init_error.lock().expect("not poisoned").clone()
    }

    /// Queues one event and returns a receiver for its outcome.
    fn enqueue(&self, event: Value, deadline: Duration) -> oneshot::Receiver<Outcome> {
        let (reply, outcome) = oneshot::channel();
        let id = format!("e2e-{}", calbridge::crypto::random::token());
        let _ = self.sender.send(Pending { id, event, deadline, reply });
        outcome
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.polled.send_if_modified(|polled| {
        if polled.is_none() {
            *polled = Some(Instant::now());
            true
        } else {
            false
        }
    });
    let Some(pending) = shared.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline_ms = jiff::Timestamp::now().as_millisecond() + pending.deadline.as_millis() as i64;
    shared.in_flight.lock().expect("not poisoned").insert(pending.id.clone(), pending.reply);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, value.parse().expect("runtime API header values are ASCII"));
    };
    set("lambda-runtime-aws-request-id", pending.id);
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", shared.function_arn.clone());
    set("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned());
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, pending.event.to_string()).into_response()
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> Response {
    match shared.in_flight.lock().expect("not poisoned").remove(id) {
        Some(reply) => {
            let _ = reply.send(outcome);
            (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"status": "OK"}))).into_response()
        }
        None => {
            (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"errorType": "InvalidRequestID"}))).into_response()
        }
    }
}

fn json_or_text(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    finish(&shared, &id, Outcome::Response(json_or_text(&body)))
}

async fn error(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    finish(&shared, &id, Outcome::Error(json_or_text(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    *shared.init_error.lock().expect("not poisoned") = Some(json_or_text(&body));
    (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"status": "OK"}))).into_response()
}

/// How a cold start ended.
#[derive(Debug)]
pub enum ColdStart {
    /// The runtime asked for its first event this long after the process started.
    Ready(Duration),
    /// The process exited (or reported an init error) before asking for an event.
    Failed { status: Option<String>, init_error: Option<Value>, output: String },
}

/// One function process attached to its own [`RuntimeApi`].
pub struct LambdaProcess {
    pub runtime: RuntimeApi,
    started: Instant,
    exited: watch::Receiver<Option<ExitStatus>>,
    output: Arc<Mutex<Vec<String>>>,
    kill: Option<oneshot::Sender<()>>,
}

impl LambdaProcess {
    /// Starts `binary` with exactly `environment` plus `AWS_LAMBDA_RUNTIME_API`.
    pub async fn spawn(
        binary: &Path,
        environment: &BTreeMap<String, String>,
        function_arn: String,
    ) -> std::io::Result<Self> {
        let runtime = RuntimeApi::start(function_arn).await?;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs(environment)
            .env("AWS_LAMBDA_RUNTIME_API", runtime.addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = binary.parent() {
            command.current_dir(dir);
        }
        let started = Instant::now();
        let mut child = command.spawn()?;
        let output = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(collect_lines(stdout, output.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(collect_lines(stderr, output.clone()));
        }
        let (exited_tx, exited) = watch::channel(None);
        let (kill, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => { let _ = exited_tx.send(status.ok()); }
                _ = kill_rx => {
                    let _ = child.kill().await;
                    let _ = exited_tx.send(child.wait().await.ok());
                }
            }
        });
        Ok(Self { runtime, started, exited, output, kill: Some(kill) })
    }

    /// Waits until the runtime asks for its first event, or fails to start.
    pub async fn cold_start(&self, limit: Duration) -> ColdStart {
        let mut polled = self.runtime.first_poll();
        let mut exited = self.exited.clone();
        let ready = tokio::time::timeout(limit, async {
            loop {
                if let Some(at) = *polled.borrow_and_update() {
                    return Ok(at);
                }
                if let Some(status) = *exited.borrow_and_update() {
                    return Err(Some(status.to_string()));
                }
                tokio::select! {
                    changed = polled.changed() => if changed.is_err() { return Err(None) },
                    changed = exited.changed() => if changed.is_err() { return Err(None) },
                }
            }
        })
        .await;
        match ready {
            Ok(Ok(at)) => ColdStart::Ready(at.duration_since(self.started)),
            Ok(Err(status)) => {
                // Give the output readers a moment to drain what the process printed last.
                tokio::time::sleep(Duration::from_millis(100)).await;
                ColdStart::Failed { status, init_error: self.runtime.init_error(), output: self.output() }
            }
            Err(_) => ColdStart::Failed {
                status: Some(format!("still initialising after {limit:?}")),
                init_error: self.runtime.init_error(),
                output: self.output(),
            },
        }
    }

    /// Delivers `event` and waits for the function's answer.
    pub async fn invoke(&self, event: Value, limit: Duration) -> Result<Outcome, InvokeError> {
        let outcome = self.runtime.enqueue(event, limit);
        let mut exited = self.exited.clone();
        let process_gone = async {
            loop {
                if let Some(status) = *exited.borrow_and_update() {
                    return status.to_string();
                }
                if exited.changed().await.is_err() {
                    return "unknown".to_owned();
                }
            }
        };
        tokio::select! {
            outcome = outcome => outcome.map_err(|_| InvokeError::Exited("runtime API dropped the invocation".into())),
            status = process_gone => Err(InvokeError::Exited(status)),
            _ = tokio::time::sleep(limit) => Err(InvokeError::Timeout(limit)),
        }
    }

    /// Everything the process wrote to stdout and stderr so far, one line per entry.
    pub fn output_lines(&self) -> Vec<String> {
        self.output.lock().expect("not poisoned").clone()
    }

    pub fn output(&self) -> String {
        self.output_lines().join("\n")
    }

    pub fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}

async fn collect_lines(stream: impl tokio::io::AsyncRead + Unpin, output: Arc<Mutex<Vec<String>>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        output.lock().expect("not poisoned").push(line);
    }
}
