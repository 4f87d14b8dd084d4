//! Warm per-request cost through the local stack.
//!
//! Processes: `google-emulator` (its own process, so the stack can be restarted without losing
//! Google's state), `calbridge-dev` (release build) with DynamoDB + KMS on moto reached through
//! the [`RecordingProxy`], and this load generator. One user connects through the real OAuth
//! flow (launch -> consent -> callback), then for each HTTP operation:
//! - cache-cold: the stack is restarted (empty data-key and access-token caches, as in a new
//!   Lambda container) and one request is sent;
//! - cache-warm: after a short warm-up, `BENCH_REQUESTS` requests at `BENCH_CONCURRENCY` in
//!   flight; latency percentiles, throughput, and Google/AWS calls per 1000 requests.
//!
//! Google calls are read from the emulator's `/_emulator/calls`; AWS calls from the proxy.
//! Environment: `MOTO_ENDPOINT`, `TABLE_NAME`, `KMS_KEY_ID`, `BENCH_STACK_BIN`,
//! `BENCH_EMULATOR_BIN`, optional `BENCH_REQUESTS` (2000), `BENCH_CONCURRENCY` (16),
//! `BENCH_EMULATOR_URL` + `BENCH_STACK_PORT` (an emulator already running, whose registered
//! redirect URI names that port; the connection then outlives this command).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::redirect::Policy;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::Error;
use crate::stats::{quantile, summary};
use lambda_e2e::aws::RecordingProxy;

const TENANT: &str = "clinic-42";
const USER: &str = "user-7f3a";
const ACCOUNT: &str = "demo@example.com";
const BUSY_EVENTS: usize = 200;

struct Env {
    stack_bin: String,
    emulator_bin: String,
    table: String,
    key: String,
    data_dir: std::path::PathBuf,
    stack_port: u16,
    emulator_url: String,
    proxy: RecordingProxy,
}

fn var(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One HTTP operation of the API, as the load generator sends it.
struct Operation {
    name: &'static str,
    function: &'static str,
    method: reqwest::Method,
    path: fn(&str) -> String,
    body: fn(&str) -> Option<Value>,
    /// At most this many warm requests (create-meet waits for Google to finish the conference).
    max_requests: usize,
}

fn operations() -> Vec<Operation> {
    use reqwest::Method;
    vec![
        Operation {
            name: "GET /connections/google",
            function: "disconnect",
            method: Method::GET,
            path: |_| "/connections/google".into(),
            body: |_| None,
            max_requests: usize::MAX,
        },
        Operation {
            name: "POST /connections/google/authorize",
            function: "auth-start",
            method: Method::POST,
            path: |_| "/connections/google/authorize".into(),
            body: |_| None,
            max_requests: usize::MAX,
        },
        Operation {
            name: "GET /calendars",
            function: "list-calendars",
            method: Method::GET,
            path: |_| "/calendars".into(),
            body: |_| None,
            max_requests: usize::MAX,
        },
        Operation {
            name: "POST /availability",
            function: "get-availability",
            method: Method::POST,
            path: |_| "/availability".into(),
            body: |_| Some(json!({"time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-08T00:00:00Z"})),
            max_requests: usize::MAX,
        },
        Operation {
            name: "POST /appointments/{id}/sync",
            function: "sync-appointment",
            method: Method::POST,
            path: |id| format!("/appointments/{id}/sync"),
            body: |id| {
                Some(json!({
                    "appointment_id": id, "user_id": USER, "action": "create", "version": 1_795_255_200_000u64,
                    "start": "2026-12-03T15:00:00Z", "end": "2026-12-03T15:50:00Z", "time_zone": "America/Chicago",
                }))
            },
            max_requests: usize::MAX,
        },
        Operation {
            name: "POST /sessions/{id}/meeting",
            function: "create-meet",
            method: Method::POST,
            path: |id| format!("/sessions/{id}/meeting"),
            body: |_| {
                Some(json!({
                    "start": "2026-12-03T15:00:00Z", "end": "2026-12-03T15:50:00Z",
                    "time_zone": "America/Chicago", "title": "Coaching session",
                }))
            },
            max_requests: 200,
        },
    ]
}

pub async fn run(out: &str) -> Result<(), Error> {
    let requests: usize = std::env::var("BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    let data_dir = std::env::temp_dir().join(format!("calbridge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let env = Env {
        stack_bin: var("BENCH_STACK_BIN")?,
        emulator_bin: var("BENCH_EMULATOR_BIN")?,
        table: var("TABLE_NAME")?,
        key: var("KMS_KEY_ID")?,
        data_dir: data_dir.clone(),
        stack_port: match std::env::var("BENCH_STACK_PORT") {
            Ok(port) => port.parse()?,
            Err(_) => free_port()?,
        },
        emulator_url: std::env::var("BENCH_EMULATOR_URL")
            .unwrap_or_else(|_| format!("http://127.0.0.1:{}", free_port().unwrap_or(8788))),
        proxy: RecordingProxy::start(&var("MOTO_ENDPOINT")?).await?,
    };
    let http = reqwest::Client::builder().redirect(Policy::none()).pool_max_idle_per_host(256).build()?;
    let base = format!("http://127.0.0.1:{}", env.stack_port);

    // run.sh may run the emulator itself, so that the cold-start runs can use the connection.
    let mut emulator = match std::env::var("BENCH_EMULATOR_URL") {
        Ok(_) => None,
        Err(_) => Some(start_emulator(&env, &http).await?),
    };
    seed_busy(&http, &env.emulator_url).await?;
    let mut stack = start_stack(&env, &http).await?;
    let token = mint(&http, &base).await?;
    reset_counts(&http, &env).await?;
    connect(&http, &base, &env.emulator_url, &token).await?;
    let connect_calls = counts(&http, &env).await?;

    let mut results = Vec::new();
    let ids = Arc::new(AtomicUsize::new(0));
    for op in operations() {
        eprintln!("calbridge-bench: warm: {}", op.name);
        // cache-cold: a fresh process, as a new Lambda container.
        stop(&mut stack).await;
        stack = start_stack(&env, &http).await?;
        let token = mint(&http, &base).await?;
        reset_counts(&http, &env).await?;
        let id = format!("c{}", ids.fetch_add(1, Ordering::SeqCst));
        let started = Instant::now();
        let status = send(&http, &base, &token, &op, &id).await?;
        let cold_ms = started.elapsed().as_secs_f64() * 1e3;
        let cold_calls = counts(&http, &env).await?;

        for _ in 0..20 {
            let id = format!("w{}", ids.fetch_add(1, Ordering::SeqCst));
            send(&http, &base, &token, &op, &id).await?;
        }
        reset_counts(&http, &env).await?;
        let requests = requests.min(op.max_requests);
        let (latencies, statuses, wall) = load(&http, &base, &token, &op, requests, concurrency, ids.clone()).await;
        let warm_calls = counts(&http, &env).await?;
        let per_1000 = |calls: &Value| -> Value {
            let mut scaled = serde_json::Map::new();
            for (group, map) in calls.as_object().into_iter().flatten() {
                let inner: serde_json::Map<String, Value> = map
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), json!(v.as_f64().unwrap_or(0.0) * 1000.0 / requests as f64)))
                    .collect();
                scaled.insert(group.clone(), Value::Object(inner));
            }
            Value::Object(scaled)
        };
        let mut sorted = latencies.clone();
        sorted.sort_by(f64::total_cmp);
        results.push(json!({
            "operation": op.name,
            "function": op.function,
            "cold": {"status": status, "latency_ms": cold_ms, "calls": cold_calls},
            "warm": {
                "requests": requests,
                "concurrency": concurrency,
                "throughput_rps": requests as f64 / wall.as_secs_f64(),
                "latency_ms": summary(&latencies),
                "p50_ms": quantile(&sorted, 0.5),
                "statuses": statuses,
                "calls_per_1000": per_1000(&warm_calls),
            },
        }));
    }
    stop(&mut stack).await;
    if let Some(emulator) = emulator.as_mut() {
        stop(emulator).await;
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::write(
        out,
        serde_json::to_vec_pretty(&json!({
            "connect_flow_calls": connect_calls,
            "user": {"tenant": TENANT, "user": USER, "account": ACCOUNT, "busy_events_in_range": BUSY_EVENTS},
            "operations": results,
        }))?,
    )?;
    Ok(())
}

async fn wait_until(what: &str, mut ready: impl AsyncFnMut() -> bool) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{what} did not come up within 30 s").into())
}

async fn start_emulator(env: &Env, http: &reqwest::Client) -> Result<Child, Error> {
    let child = Command::new(&env.emulator_bin)
        .env("EMULATOR_LISTEN_ADDR", env.emulator_url.trim_start_matches("http://"))
        .env("EMULATOR_REDIRECT_URIS", format!("http://127.0.0.1:{}/connections/google/callback", env.stack_port))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let url = format!("{}/_emulator/calls", env.emulator_url);
    wait_until("google-emulator", async || http.get(&url).send().await.is_ok_and(|r| r.status().is_success())).await?;
    Ok(child)
}

async fn start_stack(env: &Env, http: &reqwest::Client) -> Result<Child, Error> {
    let e = &env.emulator_url;
    let child = Command::new(&env.stack_bin)
        .env("LISTEN_ADDR", format!("127.0.0.1:{}", env.stack_port))
        .env("LOCAL_DATA_DIR", &env.data_dir)
        .env("AWS_ENDPOINT_URL", env.proxy.endpoint())
        .env("TABLE_NAME", &env.table)
        .env("KMS_KEY_ID", &env.key)
        .env("GOOGLE_AUTH_URL", format!("{e}/o/oauth2/v2/auth"))
        .env("GOOGLE_TOKEN_URL", format!("{e}/token"))
        .env("GOOGLE_REVOKE_URL", format!("{e}/revoke"))
        .env("GOOGLE_USERINFO_URL", format!("{e}/v1/userinfo"))
        .env("GOOGLE_CALENDAR_API_URL", format!("{e}/calendar/v3"))
        .env("GOOGLE_JWKS_URL", format!("{e}/oauth2/v3/certs"))
        .env("GOOGLE_CLIENT_ID", "calbridge-local")
        .env("GOOGLE_CLIENT_SECRET", "calbridge-local-secret")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let base = format!("http://127.0.0.1:{}", env.stack_port);
    wait_until("calbridge-dev", async || mint(http, &base).await.is_ok()).await?;
    Ok(child)
}

async fn stop(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

async fn mint(http: &reqwest::Client, base: &str) -> Result<String, Error> {
    let answer: Value = http
        .post(format!("{base}/_local/token"))
        .json(&json!({"tenant_id": TENANT, "user_id": USER}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(answer["token"].as_str().ok_or("no token")?.to_owned())
}

fn location(response: &reqwest::Response) -> Result<String, Error> {
    Ok(response.headers().get("location").ok_or("no Location header")?.to_str()?.to_owned())
}

/// The connect flow as a browser does it: launch URL -> consent -> callback.
async fn connect(http: &reqwest::Client, base: &str, emulator: &str, token: &str) -> Result<(), Error> {
    let answer: Value = http
        .post(format!("{base}/connections/google/authorize"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let launch = answer["launch_url"].as_str().ok_or("no launch_url")?;
    let launched = http.get(launch).send().await?;
    let cookies: Vec<String> = launched
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let consent = location(&launched)?;
    let query = consent.split_once('?').ok_or("consent URL without query")?.1;
    let decided = http
        .post(format!("{emulator}/o/oauth2/v2/auth/decision"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{query}&account=demo%40example.com&decision=approve"))
        .send()
        .await?;
    let callback = location(&decided)?;
    let done = http.get(&callback).header("cookie", cookies.join("; ")).send().await?;
    let landing = location(&done)?;
    if !landing.contains("status=connected") {
        return Err(format!("connect flow ended at {landing}").into());
    }
    Ok(())
}

/// `BUSY_EVENTS` events in the availability week, at fixed pseudo-random times.
async fn seed_busy(http: &reqwest::Client, emulator: &str) -> Result<(), Error> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    // Offsets in seconds from 2026-12-01T00:00:00Z; the week (and every end) stays in December.
    let fmt = |t: u64| format!("2026-12-{:02}T{:02}:{:02}:00Z", 1 + t / 86_400, t % 86_400 / 3600, t % 3600 / 60);
    let events: Vec<Value> = (0..BUSY_EVENTS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = (x % (7 * 24 * 4)) * 900;
            let end = start + 1800 + (x >> 20) % 4 * 900;
            json!({"summary": format!("busy {i}"), "start": {"dateTime": fmt(start)}, "end": {"dateTime": fmt(end)}})
        })
        .collect();
    http.post(format!("{emulator}/_emulator/calendars/{ACCOUNT}/events"))
        .json(&events)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

async fn reset_counts(http: &reqwest::Client, env: &Env) -> Result<(), Error> {
    http.post(format!("{}/_emulator/calls/reset", env.emulator_url)).send().await?.error_for_status()?;
    let _ = env.proxy.take_counts();
    Ok(())
}

async fn counts(http: &reqwest::Client, env: &Env) -> Result<Value, Error> {
    let google: Value =
        http.get(format!("{}/_emulator/calls", env.emulator_url)).send().await?.error_for_status()?.json().await?;
    let aws: BTreeMap<String, u64> = env.proxy.take_counts();
    Ok(json!({"google": google, "aws": aws}))
}

async fn send(http: &reqwest::Client, base: &str, token: &str, op: &Operation, id: &str) -> Result<u16, Error> {
    let mut request = http.request(op.method.clone(), format!("{base}{}", (op.path)(id))).bearer_auth(token);
    if let Some(body) = (op.body)(id) {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let _ = response.bytes().await?;
    Ok(status)
}

async fn load(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    op: &Operation,
    requests: usize,
    concurrency: usize,
    ids: Arc<AtomicUsize>,
) -> (Vec<f64>, BTreeMap<String, u64>, Duration) {
    let issued = AtomicUsize::new(0);
    let started = Instant::now();
    let worker = async || {
        let mut latencies = Vec::new();
        let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
        while issued.fetch_add(1, Ordering::SeqCst) < requests {
            let id = format!("l{}", ids.fetch_add(1, Ordering::SeqCst));
            let t = Instant::now();
            let status = send(http, base, token, op, &id).await.map(|s| s.to_string()).unwrap_or_else(|_| "io".into());
            latencies.push(t.elapsed().as_secs_f64() * 1e3);
            *statuses.entry(status).or_default() += 1;
        }
        (latencies, statuses)
    };
    let workers: Vec<_> = (0..concurrency).map(|_| worker()).collect();
    let done = futures_join_all(workers).await;
    let wall = started.elapsed();
    let mut latencies = Vec::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for (l, s) in done {
        latencies.extend(l);
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
    }
    (latencies, statuses, wall)
}

/// Polls every future on this task (the load generator is I/O bound; one task is enough).
async fn futures_join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => outputs[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}
