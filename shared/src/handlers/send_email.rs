//! `send-email`: `POST /messages/send`, a message from the caller's own Gmail (the service
//! names the sending user in `user_id`), at most once per `Idempotency-Key` ([`mail`]).
//!
//! The body is bounded here, larger than other routes' ([`MAX_SEND_BODY_BYTES`]: HTML mail is
//! big, Lambda's request payload is at most 6 MB); a larger one is 400 `message_too_large`
//! unread. A repeated `Idempotency-Key` header, or one that is not 1-255 visible ASCII
//! characters, is 400 `invalid_header`. A replayed answer carries `Idempotent-Replayed: true`.

use http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::errors::InputError;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::mail::{self, request::SendBody};

pub const SEND: Route = Route::new(Method::POST, "/messages/send");
pub const ROUTES: &[Route] = &[SEND];

/// The largest request body: under Lambda's 6 MB synchronous payload, with room for the
/// event's envelope (and API Gateway's base64 of a binary body).
pub const MAX_SEND_BODY_BYTES: usize = 4 * 1024 * 1024;

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    edge::route(request, ROUTES)?;
    let caller = super::caller(app, request)?;
    let key = idempotency_key(request)?;
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_SEND_BODY_BYTES {
        return Err(InputError::new(
            "message_too_large",
            format!("the request body may be at most {} MiB", MAX_SEND_BODY_BYTES / (1024 * 1024)),
        )
        .into());
    }
    // serde's message may quote the offending value, which is customer data: name the place only.
    let body: SendBody = serde_json::from_slice(bytes).map_err(|e| {
        let what = if e.is_data() { "a field has the wrong type or is unknown" } else { "the body is not JSON" };
        ApiError::bad_request(
            "invalid_request",
            format!("request body is not valid: {what} (line {}, column {})", e.line(), e.column()),
        )
    })?;
    let outcome = mail::send(app, &caller, &body, key).await?;
    let mut response = edge::json(StatusCode::OK, &outcome.view);
    if outcome.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

fn idempotency_key(request: &Request) -> Result<Option<String>, ApiError> {
    let mut values = request.headers().get_all("idempotency-key").iter();
    let Some(first) = values.next() else { return Ok(None) };
    let invalid =
        || ApiError::bad_request("invalid_header", "send one Idempotency-Key of 1-255 visible ASCII characters");
    if values.next().is_some() {
        return Err(invalid());
    }
    let raw = first.to_str().map_err(|_| invalid())?;
    Ok(Some(mail::request::idempotency_key(raw)?))
}
