//! The HTTP edge, in one place: who is calling, how errors become responses, and the headers
//! every response carries.
//!
//! Caller identity comes only from the API Gateway JWT authorizer's claims in the request
//! context (`sub` = user, the configured claim = tenant); ids in bodies or query strings are
//! never trusted for "who am I". Errors are answered as `{"error":{"code","message"}}` with a
//! stable snake_case code and a plain message; a 5xx never shows its cause to the client,
//! which instead goes to the log with its whole `source()` chain.

use std::fmt;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::domain::{ConnectionKey, TenantId, UserId};

/// Displays an error with its whole `source()` chain: `outer: inner: root`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_seconds: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid bearer token is required")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

    /// A server-side failure: the cause is logged with its chain, the client gets a generic text.
    pub fn internal(context: &str, cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred; try again later")
    }

    /// A dependency (AWS, Google) is unavailable: retryable.
    pub fn unavailable(context: &str, cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "{context}");
        Self {
            retry_after_seconds: Some(5),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "a dependency is unavailable; try again shortly",
            )
        }
    }

    pub fn into_response(self) -> Response<Body> {
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
        }
        let mut response = json(self.status, &Envelope { error: Inner { code: self.code, message: &self.message } });
        if let Some(seconds) = self.retry_after_seconds {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The authenticated caller, as the connection key of their Google connection.
pub fn caller(request: &Request, tenant_claim: &str) -> Result<ConnectionKey, ApiError> {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| &jwt.claims)
        }
        _ => None,
    }
    .ok_or_else(ApiError::unauthenticated)?;
    let user = claims.get("sub").and_then(|s| UserId::parse(s).ok());
    let tenant = claims.get(tenant_claim).and_then(|s| TenantId::parse(s).ok());
    match (tenant, user) {
        (Some(tenant), Some(user)) => Ok(ConnectionKey::google(tenant, user)),
        _ => Err(ApiError::unauthenticated()),
    }
}

/// The request path as the client sent it, without an API Gateway stage prefix.
pub fn path(request: &Request) -> &str {
    let raw = request.raw_http_path();
    if raw.is_empty() { request.uri().path() } else { raw }
}

/// One query parameter, percent-decoded.
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// One cookie's value from the `Cookie` header(s).
pub fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Parses an optional JSON body; an empty body is `T::default()`.
pub fn json_body<T: serde::de::DeserializeOwned + Default>(request: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("request body is not valid: {e}")))
}

fn with_common_headers(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    // Responses name connections and flows: nothing here may be cached by anyone.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("response types always serialise");
    let response = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("static response parts are valid");
    with_common_headers(response)
}

pub fn no_content() -> Response<Body> {
    let response =
        Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).expect("static response parts are valid");
    with_common_headers(response)
}

/// Headers for pages the user's browser opens (launch, callback): nothing leaks through the
/// `Referer` to the next site, and nothing is cached.
pub fn browser(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    with_common_headers(response)
}

pub fn redirect(location: &str) -> Response<Body> {
    let response = Response::builder()
        .status(StatusCode::FOUND)
        .header(LOCATION, location)
        .body(Body::Empty)
        .expect("a URL is a valid Location header");
    browser(response)
}

/// An error page for the browser: a small HTML page when the client asks for HTML, else JSON.
pub fn browser_error(request: &Request, error: ApiError) -> Response<Body> {
    let wants_html = request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html {
        return browser(error.into_response());
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Connection failed</title></head>\
         <body><h1>Connection failed</h1><p>{}</p><p><small>Error code: {}</small></p></body></html>",
        html_escape(&error.message),
        error.code
    );
    let response = Response::builder()
        .status(error.status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", "default-src 'none'")
        .body(Body::from(page))
        .expect("static response parts are valid");
    browser(response)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
