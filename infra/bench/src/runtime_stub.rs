//! A one-shot Lambda Runtime API (2018-06-01) for one process start.
//!
//! The first `GET /invocation/next` is the cold-start mark: it is timed against the instant just
//! before the process was spawned, and answered with the benchmark event. The `/response` (or
//! `/error`) POST marks the first completed invocation. The second `/next` means the runtime
//! is idle again: peak RSS (`VmHWM`) is read then, and that poll is never answered.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use tokio::sync::Notify;

#[derive(Debug, Default, Clone)]
pub struct Marks {
    pub first_next: Option<Duration>,
    pub rss_at_first_next_kb: Option<u64>,
    pub completed: Option<Duration>,
    pub outcome: Option<String>,
    pub status_code: Option<u64>,
    pub peak_rss_kb: Option<u64>,
}

pub struct Stub {
    event: Vec<u8>,
    launched: Mutex<Option<(Instant, u32)>>,
    next_calls: Mutex<u32>,
    pub marks: Mutex<Marks>,
    pub finished: Notify,
}

impl Stub {
    pub fn new(event: Vec<u8>) -> Arc<Self> {
        Arc::new(Self {
            event,
            launched: Mutex::new(None),
            next_calls: Mutex::new(0),
            marks: Mutex::new(Marks::default()),
            finished: Notify::new(),
        })
    }

    pub fn launched(&self, at: Instant, pid: u32) {
        *self.launched.lock().unwrap() = Some((at, pid));
    }

    /// The spawn instant and pid; a poll can arrive before `spawn` has returned them.
    async fn launch(&self) -> (Instant, u32) {
        loop {
            if let Some(launch) = *self.launched.lock().unwrap() {
                return launch;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(self.clone())
    }
}

async fn next(State(stub): State<Arc<Stub>>) -> Response {
    let now = Instant::now();
    let (start, pid) = stub.launch().await;
    let call = {
        let mut calls = stub.next_calls.lock().unwrap();
        *calls += 1;
        *calls
    };
    if call == 1 {
        let rss = peak_rss_kb(pid);
        {
            let mut marks = stub.marks.lock().unwrap();
            marks.first_next = Some(now - start);
            marks.rss_at_first_next_kb = rss;
        }
        let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 30_000;
        return (
            [
                ("lambda-runtime-aws-request-id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned()),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_owned(),
                ),
                ("content-type", "application/json".to_owned()),
            ],
            stub.event.clone(),
        )
            .into_response();
    }
    stub.marks.lock().unwrap().peak_rss_kb = peak_rss_kb(pid);
    stub.finished.notify_one();
    std::future::pending::<()>().await;
    StatusCode::OK.into_response()
}

async fn response(State(stub): State<Arc<Stub>>, body: Bytes) -> StatusCode {
    complete(&stub, "response", &body).await;
    StatusCode::ACCEPTED
}

async fn error(State(stub): State<Arc<Stub>>, body: Bytes) -> StatusCode {
    complete(&stub, "error", &body).await;
    StatusCode::ACCEPTED
}

async fn init_error(State(stub): State<Arc<Stub>>, body: Bytes) -> StatusCode {
    complete(&stub, "init_error", &body).await;
    stub.finished.notify_one();
    StatusCode::ACCEPTED
}

async fn complete(stub: &Stub, outcome: &str, body: &[u8]) {
    let now = Instant::now();
    let (start, _) = stub.launch().await;
    let status = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v.get("statusCode")?.as_u64());
    if outcome != "response" {
        eprintln!("calbridge-bench: {outcome}: {}", String::from_utf8_lossy(body));
    }
    let mut marks = stub.marks.lock().unwrap();
    marks.completed = Some(now - start);
    marks.outcome = Some(outcome.to_owned());
    marks.status_code = status;
}

/// `VmHWM` (peak resident set) of `pid`, in kB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}
