//! The two error dialects Google speaks, as typed errors that render themselves.
//!
//! Contract: Google APIs (Calendar) answer
//! `{"error":{"code","message","errors":[{"message","domain","reason",..}],"status"}}`
//! ([`ApiError`]); the OAuth token, revoke and userinfo endpoints answer RFC 6749
//! `{"error","error_description"}` ([`OAuthError`]). Every refusal in the emulator
//! goes through one of these so the shapes cannot drift apart.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Google API error (Calendar v3 and the other discovery-based APIs).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} {reason}: {message}", status.as_u16())]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub reason: String,
    pub message: String,
    /// `location` / `locationType` of the single error item, when Google sends them.
    pub location: Option<(&'static str, &'static str)>,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: &str, message: impl Into<String>) -> Self {
        ApiError { status, reason: reason.to_owned(), message: message.into(), location: None }
    }

    /// The 401 every API call with an unknown, expired or revoked token gets.
    pub fn invalid_credentials() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            reason: "authError".to_owned(),
            message: "Request had invalid authentication credentials. Expected OAuth 2 access \
                      token, login cookie or other valid authentication credential. See \
                      https://developers.google.com/identity/sign-in/web/devconsole-project."
                .to_owned(),
            location: Some(("Authorization", "header")),
        }
    }

    pub fn insufficient_scopes() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "notFound", "Not Found")
    }

    pub fn bad_request(reason: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, reason, message)
    }

    pub fn required(message: impl Into<String>) -> Self {
        ApiError::bad_request("required", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::bad_request("invalid", message)
    }

    /// A default body for a fault that only names a status.
    pub fn for_status(status: StatusCode) -> Self {
        let (reason, message) = match status.as_u16() {
            400 => ("badRequest", "Bad Request"),
            401 => return ApiError::invalid_credentials(),
            403 => ("forbidden", "Forbidden"),
            404 => ("notFound", "Not Found"),
            409 => ("conflict", "Conflict"),
            410 => ("deleted", "Resource has been deleted"),
            412 => ("conditionNotMet", "Precondition Failed"),
            429 => ("rateLimitExceeded", "Rate Limit Exceeded"),
            500 => ("backendError", "Backend Error"),
            503 => ("backendError", "The service is currently unavailable."),
            _ => ("backendError", status.canonical_reason().unwrap_or("Error")),
        };
        ApiError::new(status, reason, message)
    }

    pub fn body(&self) -> Value {
        // The short per-item messages Google uses where they differ from the top-level one.
        let item_message = match self.reason.as_str() {
            "authError" => "Invalid Credentials",
            "insufficientPermissions" => "Insufficient Permission",
            _ => self.message.as_str(),
        };
        let mut item = json!({
            "message": item_message,
            "domain": "global",
            "reason": self.reason,
        });
        if let Some((location, location_type)) = self.location {
            item["location"] = json!(location);
            item["locationType"] = json!(location_type);
        }
        json!({
            "error": {
                "code": self.status.as_u16(),
                "message": self.message,
                "errors": [item],
                "status": grpc_status(self.status),
            }
        })
    }
}

/// The google.rpc status name Google's front end pairs with each HTTP status.
fn grpc_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        410 => "NOT_FOUND",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
        }
        response
    }
}

/// An RFC 6749 error from the token, revoke or userinfo endpoint.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} {code}: {description}", status.as_u16())]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, code, description: description.into() }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", description)
    }

    pub fn invalid_token(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_token", description)
    }

    /// A default body for a fault that only names a status.
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => OAuthError::invalid_request("Bad Request"),
            401 => OAuthError::invalid_client("Unauthorized"),
            503 => OAuthError::new(status, "temporarily_unavailable", "Service unavailable"),
            _ => OAuthError::new(status, "server_error", status.canonical_reason().unwrap_or("Error")),
        }
    }

    pub fn body(&self) -> Value {
        json!({ "error": self.code, "error_description": self.description })
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        // RFC 6749 §5.1 asks for no-store on token responses, errors included.
        no_store(&mut response);
        response
    }
}

/// Marks a response as never cacheable (RFC 6749 §5.1).
pub(crate) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
