//! Cold starts: each target is started `runs` times, round-robin across targets so that drift
//! of a shared machine spreads evenly over them (the calbridge / peer ratios compare like with
//! like). Every start gets a fresh Runtime API stub and its AWS calls are counted by a proxy
//! in front of `MOTO_ENDPOINT` (the targets' `AWS_ENDPOINT_URL` is pointed at the proxy).
//!
//! Spec (JSON): `{"runs": 30, "targets": [{"name", "group", "event": "<path>",
//! "command": ["<program>", "<arg>"...], "env": {"K": "V"}}]}`; the process environment is
//! inherited, then `env`, then the Lambda variables. With `BENCH_EMULATOR_URL`, Google calls
//! per start are read from the emulator's counters too (prefixed `google.`).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::runtime_stub::Stub;
use crate::stats::summary;
use lambda_e2e::aws::RecordingProxy;

#[derive(Deserialize)]
struct Spec {
    runs: usize,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    group: String,
    event: String,
    command: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Default)]
struct Samples {
    first_next_ms: Vec<f64>,
    completed_ms: Vec<f64>,
    rss_init_mb: Vec<f64>,
    peak_rss_mb: Vec<f64>,
    statuses: BTreeMap<String, u64>,
    aws_calls: BTreeMap<String, u64>,
    failures: u64,
}

pub async fn run(spec_path: &str, out: &str) -> Result<(), Error> {
    let spec: Spec = serde_json::from_slice(&std::fs::read(spec_path)?)?;
    let moto = std::env::var("MOTO_ENDPOINT").map_err(|_| "MOTO_ENDPOINT is not set")?;
    let proxy = RecordingProxy::start(&moto).await?;
    let events: Vec<Vec<u8>> = spec.targets.iter().map(|t| std::fs::read(&t.event)).collect::<Result<_, _>>()?;
    let emulator = std::env::var("BENCH_EMULATOR_URL").ok();
    let http = reqwest::Client::new();
    let mut samples: Vec<Samples> = spec.targets.iter().map(|_| Samples::default()).collect();

    // One unmeasured start per target first: page cache, dynamic loader, moto's lazy setup.
    for round in 0..=spec.runs {
        for (i, target) in spec.targets.iter().enumerate() {
            let _ = proxy.take_counts();
            if let Some(e) = &emulator {
                http.post(format!("{e}/_emulator/calls/reset")).send().await?.error_for_status()?;
            }
            let marks = start_once(target, &events[i], &proxy.endpoint()).await?;
            let mut calls = proxy.take_counts();
            if let Some(e) = &emulator {
                let google: BTreeMap<String, u64> =
                    http.get(format!("{e}/_emulator/calls")).send().await?.json().await?;
                calls.extend(google.into_iter().map(|(k, v)| (format!("google.{k}"), v)));
            }
            if round == 0 {
                continue;
            }
            let s = &mut samples[i];
            match (marks.first_next, marks.completed, marks.peak_rss_kb) {
                (Some(next), Some(done), Some(peak)) => {
                    s.first_next_ms.push(next.as_secs_f64() * 1e3);
                    s.completed_ms.push(done.as_secs_f64() * 1e3);
                    s.rss_init_mb.push(marks.rss_at_first_next_kb.unwrap_or(0) as f64 / 1024.0);
                    s.peak_rss_mb.push(peak as f64 / 1024.0);
                }
                _ => s.failures += 1,
            }
            let status = format!(
                "{}:{}",
                marks.outcome.as_deref().unwrap_or("none"),
                marks.status_code.map(|c| c.to_string()).unwrap_or_default()
            );
            *s.statuses.entry(status).or_default() += 1;
            for (op, n) in calls {
                *s.aws_calls.entry(op).or_default() += n;
            }
        }
        eprintln!("calbridge-bench: cold-start round {round}/{} done", spec.runs);
    }

    let results: Vec<Value> = spec
        .targets
        .iter()
        .zip(&samples)
        .map(|(t, s)| {
            let per_start: BTreeMap<&String, f64> =
                s.aws_calls.iter().map(|(op, n)| (op, *n as f64 / spec.runs as f64)).collect();
            json!({
                "name": t.name,
                "group": t.group,
                "event": t.event,
                "command": t.command,
                "runs": spec.runs,
                "failures": s.failures,
                "start_to_next_ms": summary(&s.first_next_ms),
                "start_to_first_response_ms": summary(&s.completed_ms),
                "rss_at_next_mb": summary(&s.rss_init_mb),
                "peak_rss_mb": summary(&s.peak_rss_mb),
                "outcomes": s.statuses,
                "calls_per_start": per_start,
                "binary_bytes": std::fs::metadata(&t.command[0]).map(|m| m.len()).ok(),
            })
        })
        .collect();
    std::fs::write(out, serde_json::to_vec_pretty(&json!({"targets": results}))?)?;
    Ok(())
}

async fn start_once(target: &Target, event: &[u8], aws_endpoint: &str) -> Result<crate::runtime_stub::Marks, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stub = Stub::new(event.to_vec());
    let router = stub.router();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let mut command = tokio::process::Command::new(&target.command[0]);
    command
        .args(&target.command[1..])
        .envs(&target.env)
        .env("AWS_ENDPOINT_URL", aws_endpoint)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &target.name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", target.name))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]bench")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn()?;
    stub.launched(started, child.id().unwrap_or(0));
    let finished = tokio::time::timeout(Duration::from_secs(30), stub.finished.notified()).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    server.abort();
    if finished.is_err() {
        eprintln!("calbridge-bench: {} did not finish its first invocation within 30 s", target.name);
    }
    let marks = stub.marks.lock().unwrap().clone();
    Ok(marks)
}
