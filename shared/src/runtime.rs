//! The Lambda bootstrap every binary shares: logging, configuration (failing fast with every
//! missing variable named), the [`App`](crate::app::App) built once, then the event loop.
//!
//! Logs are JSON lines in Lambda (CloudWatch) and readable text on stderr locally. The level
//! comes from `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`), default `info`, as `level` or
//! `target=level` directives separated by commas (tracing-subscriber's `Targets` syntax: no span
//! or field filters, which would link a regex engine into every binary for a feature nobody
//! uses in Lambda; a value that does not parse means `info`). Nothing calbridge logs
//! carries a token, code, verifier, state, ticket or cookie; other crates do not make that
//! promise (at TRACE the Lambda runtime logs every raw event, cookies, codes, bearer tokens
//! and all), so every target outside calbridge is capped at INFO whatever the configured level
//! ([`log_filter`]): `LogLevel=TRACE` turns on calbridge's own tracing only.

use std::io::IsTerminal as _;

use tracing::Subscriber;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::layer::{Filter, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::usecases::deadline;

/// The most any crate but calbridge may log, whatever the configured level.
pub const THIRD_PARTY_LOG_CAP: LevelFilter = LevelFilter::INFO;
/// The targets (module paths, matched as prefixes) that may log at any configured level.
const OWN_TARGETS: &[&str] = &["calbridge"];

/// The configured filter (`RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`), with every
/// target outside calbridge capped at [`THIRD_PARTY_LOG_CAP`].
pub fn log_filter<S>(configured: Targets) -> impl Filter<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let cap = Targets::new()
        .with_default(THIRD_PARTY_LOG_CAP)
        .with_targets(OWN_TARGETS.iter().map(|target| (*target, LevelFilter::TRACE)));
    configured.and(cap)
}

fn configured_filter() -> Targets {
    let raw =
        std::env::var("RUST_LOG").ok().or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().map(|l| l.to_lowercase()));
    parse_level(raw.as_deref())
}

/// `raw` as directives, or `info` when it is absent or does not parse.
fn parse_level(raw: Option<&str>) -> Targets {
    raw.and_then(|raw| raw.trim().parse().ok()).unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs the log subscriber (once per process).
pub fn init() {
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // CloudWatch adds its own timestamp; JSON lines are queryable with Logs Insights.
        let layer = layer.json().with_current_span(false).without_time();
        tracing_subscriber::registry().with(layer.with_filter(log_filter(configured_filter()))).init();
    } else {
        let layer = layer.with_ansi(std::io::stderr().is_terminal());
        tracing_subscriber::registry().with(layer.with_filter(log_filter(configured_filter()))).init();
    }
}

/// Runs one function in the Lambda runtime: logging, configuration (failing fast with every
/// missing variable named), the [`App`](crate::app::App) built once, then the event loop.
/// The `App` lives for the whole container, so it is leaked to a `'static` borrow rather than
/// reference-counted on every request.
pub async fn serve<F, Fut>(handle: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static crate::app::App, lambda_http::Request) -> Fut,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send,
{
    init();
    crate::metrics::install();
    let config = crate::config::Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app: &'static crate::app::App = Box::leak(Box::new(crate::app::App::from_config(config).await?));
    lambda_http::run(lambda_http::service_fn(move |request: lambda_http::Request| {
        let (deadline, html) = (http_deadline(&request), crate::http::wants_html(&request));
        let response = respond_by(deadline, html, handle(app, request));
        async move {
            let response = response.await;
            crate::metrics::flush();
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}

/// Runs a function that receives both API Gateway requests and other events (EventBridge):
/// a payload with a `requestContext` goes through `lambda_http`'s own request/response
/// conversion to `handle_http`; anything else goes to `handle_event` with the invocation's
/// deadline. An `Err` from `handle_event` fails the invocation, so Lambda retries it.
pub async fn serve_http_and_events<F, Fut, G, GFut, E>(
    handle_http: F,
    handle_event: G,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static crate::app::App, lambda_http::Request) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'static,
    G: Fn(&'static crate::app::App, serde_json::Value, tokio::time::Instant) -> GFut,
    GFut: std::future::Future<Output = Result<serde_json::Value, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    use lambda_http::tower::ServiceExt as _;

    init();
    crate::metrics::install();
    let config = crate::config::Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app: &'static crate::app::App = Box::leak(Box::new(crate::app::App::from_config(config).await?));
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        use futures_util::future::Either;
        let deadline = invocation_deadline(event.context.deadline);
        if event.payload.get("requestContext").is_none() {
            let work = deadline::scope(deadline::answer_by_for(deadline), handle_event(app, event.payload, deadline));
            return Either::Left(async move {
                let outcome = work.await;
                crate::metrics::flush();
                Ok::<_, lambda_runtime::Error>(outcome?)
            });
        }
        let handle_http = handle_http.clone();
        Either::Right(async move {
            let request: lambda_http::request::LambdaRequest = serde_json::from_value(event.payload)?;
            let service = lambda_http::service_fn(move |request: lambda_http::Request| {
                let html = crate::http::wants_html(&request);
                let response = respond_by(deadline, html, handle_http(app, request));
                async move { Ok::<_, std::convert::Infallible>(response.await) }
            });
            let adapter = lambda_http::Adapter::from(service);
            let response = adapter.oneshot(lambda_runtime::LambdaEvent::new(request, event.context)).await;
            crate::metrics::flush();
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(response?)?)
        })
    }))
    .await
}

/// Answers the request `handler` serves by `deadline` (the invocation's, or
/// [`deadline::REQUEST_TIMEOUT`] from now where there is no Lambda context) less
/// [`deadline::ANSWER_MARGIN`]: the handler runs inside the deadline's [`deadline::scope`], and
/// one still running then is dropped and answered `503 deadline_exceeded` with `Retry-After`
/// (a small HTML page when the browser asked for `html`), a clear retryable status before
/// Lambda would kill the function. What the handler left half done is what a killed
/// invocation leaves: every write is conditional and every lease sized to end soon after this
/// deadline, so the next attempt takes over.
pub async fn respond_by<F>(
    deadline: tokio::time::Instant,
    html: bool,
    handler: F,
) -> lambda_http::Response<lambda_http::Body>
where
    F: std::future::Future<Output = lambda_http::Response<lambda_http::Body>>,
{
    let answer_by = deadline::answer_by_for(deadline);
    match tokio::time::timeout_at(answer_by, deadline::scope(answer_by, handler)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request abandoned at its deadline; answered 503 deadline_exceeded");
            crate::metrics::deadline_exceeded();
            crate::http::error_for(html, crate::http::ApiError::deadline_exceeded())
        }
    }
}

/// An HTTP request's deadline: the Lambda context's, or [`deadline::REQUEST_TIMEOUT`] from now.
fn http_deadline(request: &lambda_http::Request) -> tokio::time::Instant {
    use lambda_http::RequestExt as _;
    request.lambda_context_ref().map_or_else(
        || tokio::time::Instant::now() + deadline::REQUEST_TIMEOUT,
        |context| invocation_deadline(context.deadline),
    )
}

/// The invocation's deadline (epoch milliseconds in the Lambda context) as an `Instant`.
pub fn invocation_deadline(deadline_epoch_ms: u64) -> tokio::time::Instant {
    let now_ms = u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0);
    tokio::time::Instant::now() + std::time::Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Everything a subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// What is logged at `level` when the Lambda runtime sees an event and calbridge traces.
    fn logged_at(level: &str, capped: bool) -> String {
        logged_with(parse_level(Some(level)), capped)
    }

    fn logged_with(configured: Targets, capped: bool) -> String {
        let out = Captured::default();
        let layer = tracing_subscriber::fmt::layer().json().with_writer(out.clone());
        let emit = || {
            // What lambda_runtime's api_response layer does with every invocation at TRACE.
            tracing::trace!(
                target: "lambda_runtime::layers::api_response",
                body = r#"{"cookies":["__Host-calbridge-oauth=RAW-COOKIE"],"rawQueryString":"code=RAW-CODE"}"#,
                "raw JSON event received from Lambda"
            );
            tracing::debug!(target: "hyper_util::client::legacy::pool", "RAW-HYPER-DEBUG");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "RAW-SDK-TRACE");
            tracing::info!(target: "lambda_runtime", "runtime-info");
            tracing::warn!(target: "reqwest::connect", "reqwest-warn");
            tracing::trace!(target: "calbridge::usecases::connect", "own-trace");
        };
        if capped {
            tracing::subscriber::with_default(
                tracing_subscriber::registry().with(layer.with_filter(log_filter(configured))),
                emit,
            );
        } else {
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer.with_filter(configured)), emit);
        }
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn without_the_cap_trace_logs_the_raw_event() {
        // The leak the cap exists for: this is what a scan of TRACE logs would find.
        let logs = logged_at("trace", false);
        for raw in ["RAW-COOKIE", "RAW-CODE", "RAW-HYPER-DEBUG", "RAW-SDK-TRACE"] {
            assert!(logs.contains(raw), "{raw} missing from {logs}");
        }
    }

    #[test]
    fn at_trace_only_calbridge_goes_below_info() {
        for level in ["trace", "TRACE", "debug", "lambda_runtime=trace,calbridge=trace", "hyper_util=trace,trace"] {
            let logs = logged_at(&level.to_lowercase(), true);
            for raw in ["RAW-COOKIE", "RAW-CODE", "RAW-HYPER-DEBUG", "RAW-SDK-TRACE"] {
                assert!(!logs.contains(raw), "{level}: {raw} leaked: {logs}");
            }
            assert!(logs.contains("runtime-info"), "up to INFO other crates still log: {level}: {logs}");
        }
        let logs = logged_at("trace", true);
        assert!(logs.contains("own-trace") && logs.contains("reqwest-warn"), "{logs}");
        assert!(!logged_at("debug", true).contains("own-trace"), "the configured level still applies");
    }

    #[test]
    fn a_level_that_does_not_parse_means_info() {
        for raw in [None, Some("calbridge=loud")] {
            let logs = logged_with(parse_level(raw), true);
            assert!(logs.contains("runtime-info") && !logs.contains("own-trace"), "{raw:?}: {logs}");
        }
        let logs = logged_at("info,calbridge=trace", true);
        assert!(logs.contains("own-trace") && logs.contains("runtime-info"), "{logs}");
    }

    #[test]
    fn the_cap_never_raises_a_stricter_configured_level() {
        let logs = logged_at("warn", true);
        assert!(!logs.contains("runtime-info") && !logs.contains("own-trace"), "{logs}");
        assert!(logs.contains("reqwest-warn"));
    }
}
