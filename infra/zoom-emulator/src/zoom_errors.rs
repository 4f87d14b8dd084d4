//! The two error dialects Zoom speaks, as typed errors that render themselves.
//!
//! Contract: the REST API answers `{"code": <int>, "message": "..."}` (plus
//! `errors: [{field, message}]` for validation failures) ([`ApiError`]); the
//! OAuth endpoints under `/oauth` answer `{"reason": "...", "error": "<rfc6749 code>"}`
//! ([`OAuthError`]). Every refusal in the emulator goes through one of these so the
//! shapes cannot drift apart.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Zoom REST API error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} code {code}: {message}", status.as_u16())]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    /// `(field, message)` pairs of a "Validation Failed." answer.
    pub field_errors: Vec<(String, String)>,
    /// Extra response headers (the daily-limit headers of a 429).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field_errors: Vec::new(), headers: Vec::new() }
    }

    /// The 401 every API call with an unknown, expired or revoked token gets.
    pub fn invalid_access_token() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, 124, "Invalid access token.")
    }

    /// A token without any of the scopes the endpoint accepts.
    pub fn missing_scopes(accepted: &[&str]) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            4711,
            format!("Invalid access token, does not contain scopes:[{}].", accepted.join(", ")),
        )
    }

    pub fn invalid_json() -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, 300, "Request Body should be a valid JSON object.")
    }

    pub fn validation_failed(field_errors: Vec<(String, String)>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 300,
            message: "Validation Failed.".to_owned(),
            field_errors,
            headers: Vec::new(),
        }
    }

    pub fn meeting_not_found(meeting_id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 3001, format!("Meeting does not exist: {meeting_id}."))
    }

    pub fn user_not_found(user_id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 1001, format!("User does not exist: {user_id}."))
    }

    /// A default body for a fault that only names a status.
    pub fn for_status(status: StatusCode) -> Self {
        let message = match status.as_u16() {
            401 => return ApiError::invalid_access_token(),
            429 => "You have reached the maximum per-second rate limit for this API. Try again later.",
            500 => "Internal server error.",
            503 => "Service unavailable.",
            _ => status.canonical_reason().unwrap_or("Error"),
        };
        ApiError::new(status, i64::from(status.as_u16()), message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "message": self.message });
        if !self.field_errors.is_empty() {
            body["errors"] = Value::Array(
                self.field_errors.iter().map(|(field, message)| json!({"field": field, "message": message})).collect(),
            );
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// An OAuth endpoint refusal (`/oauth/token`, `/oauth/revoke`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} {error}: {reason}", status.as_u16())]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    /// RFC 6749 error code.
    pub error: &'static str,
    pub reason: String,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, reason: impl Into<String>) -> Self {
        OAuthError { status, error, reason: reason.into() }
    }

    pub fn invalid_client() -> Self {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client_id or client_secret")
    }

    pub fn invalid_request(reason: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", reason)
    }

    pub fn invalid_grant(reason: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", reason)
    }

    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => OAuthError::invalid_client(),
            429 => OAuthError::new(status, "too_many_requests", "Too many requests"),
            code if code >= 500 => OAuthError::new(status, "server_error", "Internal server error"),
            _ => OAuthError::invalid_request(status.canonical_reason().unwrap_or("Bad request")),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, axum::Json(json!({"reason": self.reason, "error": self.error}))).into_response();
        no_store(&mut response);
        response
    }
}

/// Token responses must not be cached (RFC 6749 §5.1).
pub(crate) fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
