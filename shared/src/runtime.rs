//! The Lambda bootstrap every binary shares: logging, configuration (failing fast with every
//! missing variable named), the [`App`](crate::app::App) built once, then the event loop.
//!
//! Logs are JSON lines in Lambda (CloudWatch) and readable text on stderr locally. The level
//! comes from `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`), default `info`. Nothing calbridge logs
//! carries a token, code, verifier, state, ticket or cookie.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Installs the log subscriber (once per process).
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().map(|l| l.to_lowercase()))
        .and_then(|raw| EnvFilter::try_new(raw).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // CloudWatch adds its own timestamp; JSON lines are queryable with Logs Insights.
        builder.json().with_current_span(false).without_time().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
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
    let config = crate::config::Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app: &'static crate::app::App = Box::leak(Box::new(crate::app::App::from_config(config).await?));
    lambda_http::run(lambda_http::service_fn(move |request| {
        let response = handle(app, request);
        async move { Ok::<_, std::convert::Infallible>(response.await) }
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
    let config = crate::config::Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app: &'static crate::app::App = Box::leak(Box::new(crate::app::App::from_config(config).await?));
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        use futures_util::future::Either;
        if event.payload.get("requestContext").is_none() {
            let work = handle_event(app, event.payload, invocation_deadline(event.context.deadline));
            return Either::Left(async move { Ok::<_, lambda_runtime::Error>(work.await?) });
        }
        let handle_http = handle_http.clone();
        Either::Right(async move {
            let request: lambda_http::request::LambdaRequest = serde_json::from_value(event.payload)?;
            let service = lambda_http::service_fn(move |request| {
                let response = handle_http(app, request);
                async move { Ok::<_, std::convert::Infallible>(response.await) }
            });
            let adapter = lambda_http::Adapter::from(service);
            let response = adapter.oneshot(lambda_runtime::LambdaEvent::new(request, event.context)).await?;
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(response)?)
        })
    }))
    .await
}

/// The invocation's deadline (epoch milliseconds in the Lambda context) as an `Instant`.
fn invocation_deadline(deadline_epoch_ms: u64) -> tokio::time::Instant {
    let now_ms = u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0);
    tokio::time::Instant::now() + std::time::Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms))
}
