//! One handler per Lambda function, each `async fn handle(&App, Request) -> Response<Body>`.
//!
//! The binaries in `functions/<name>` only wire an [`App`](crate::app::App) to these; the local
//! stack serves the very same functions behind the same paths. Each handler routes on method
//! and path among the routes its function owns, parses input into domain types, calls a use
//! case and maps the result through [`crate::http`].

pub mod auth_callback;
pub mod auth_start;
pub mod create_meet;
pub mod disconnect;
pub mod get_availability;
pub mod list_calendars;
pub mod sync_appointment;

use http::StatusCode;

use crate::access_tokens::AccessError;
use crate::connect::ConnectError;
use crate::http::ApiError;
use crate::ports::{GoogleApiError, GoogleOAuthError, StoreError};

impl From<ConnectError> for ApiError {
    fn from(error: ConnectError) -> Self {
        match &error {
            ConnectError::InvalidReturnTo(_) => ApiError::bad_request(
                "invalid_return_to",
                "return_to must exactly match one of the allowed return URLs",
            ),
            ConnectError::InvalidRequest(message) => ApiError::bad_request("invalid_request", *message),
            ConnectError::InvalidTicket => ApiError::bad_request("invalid_ticket", error.to_string()),
            ConnectError::InvalidState => ApiError::bad_request("invalid_state", error.to_string()),
            ConnectError::BrowserMismatch => ApiError::bad_request("browser_mismatch", error.to_string()),
            ConnectError::Store(crate::ports::StoreError::Unavailable(_)) | ConnectError::Secrets(_) => {
                ApiError::unavailable("dependency unavailable", &error)
            }
            ConnectError::Store(_) | ConnectError::Tokens(_) => ApiError::internal("request failed", &error),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match &error {
            AccessError::NotConnected => {
                ApiError::new(StatusCode::CONFLICT, "not_connected", "the user has not connected a Google account")
            }
            AccessError::NeedsReconnect => ApiError::new(
                StatusCode::CONFLICT,
                "needs_reconnect",
                "the user's Google connection has expired or was revoked; the user must connect again",
            ),
            AccessError::Google(google) if google.is_retryable() => {
                let mut api = ApiError::unavailable("google unavailable after retries", &error);
                if let GoogleApiError::RateLimited { retry_after: Some(after) } = google {
                    api.retry_after_seconds = Some(after.as_secs().max(1));
                }
                api
            }
            AccessError::Refresh(GoogleOAuthError::Unavailable(_)) | AccessError::Store(StoreError::Unavailable(_)) => {
                ApiError::unavailable("dependency unavailable", &error)
            }
            AccessError::Google(_) | AccessError::Refresh(_) => {
                tracing::warn!(error = %crate::http::ErrorChain(&error), "google refused the request");
                ApiError::new(StatusCode::BAD_GATEWAY, "google_error", "Google refused the request")
            }
            AccessError::Store(_) | AccessError::Tokens(_) => ApiError::internal("request failed", &error),
        }
    }
}

/// The answer for a method or path this function does not serve.
pub(crate) fn unrouted(method: &http::Method) -> ApiError {
    if *method == http::Method::OPTIONS || *method == http::Method::HEAD {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed");
    }
    ApiError::not_found()
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
    crate::telemetry::init();
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

    crate::telemetry::init();
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
