//! Every response calbridge gives: JSON bodies, the error envelope, browser pages and
//! redirects, with the headers they all carry (never cached, never sniffed).

use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::errors::{ErrorChain, InputError};

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_seconds: Option<u64>,
    /// The provider the error is about (`not_connected` for a meeting names it), as
    /// `error.provider`.
    pub provider: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_seconds: None, provider: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed")
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

    /// The request could not finish before the function's deadline: retryable, and the
    /// operations are idempotent, so the same request may simply be sent again.
    pub fn deadline_exceeded() -> Self {
        Self {
            retry_after_seconds: Some(2),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "deadline_exceeded",
                "the request could not finish in time; try again after Retry-After seconds",
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
            #[serde(skip_serializing_if = "Option::is_none")]
            provider: Option<&'a str>,
        }
        let inner = Inner { code: self.code, message: &self.message, provider: self.provider };
        let mut response = json(self.status, &Envelope { error: inner });
        if let Some(seconds) = self.retry_after_seconds {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
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

/// The answer to a form post that continues elsewhere with a GET (303).
pub fn see_other(location: &str) -> Response<Body> {
    let response = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(LOCATION, location)
        .body(Body::Empty)
        .expect("a URL is a valid Location header");
    browser(response)
}

pub fn redirect(location: &str) -> Response<Body> {
    let response = Response::builder()
        .status(StatusCode::FOUND)
        .header(LOCATION, location)
        .body(Body::Empty)
        .expect("a URL is a valid Location header");
    browser(response)
}

/// Whether the client asked for HTML (a browser navigating), rather than JSON.
pub fn wants_html(request: &Request) -> bool {
    request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// An error page for the browser: a small HTML page when the client asks for HTML, else JSON.
pub fn browser_error(request: &Request, error: ApiError) -> Response<Body> {
    error_for(wants_html(request), error)
}

/// `error` as HTML (`html`: a small page) or as the JSON envelope, with its `Retry-After`.
pub fn error_for(html: bool, error: ApiError) -> Response<Body> {
    if !html {
        return browser(error.into_response());
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Connection failed</title></head>\
         <body><h1>Connection failed</h1><p>{}</p><p><small>Error code: {}</small></p></body></html>",
        html_escape(&error.message),
        error.code
    );
    let mut response = Response::builder()
        .status(error.status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", "default-src 'none'")
        .body(Body::from(page))
        .expect("static response parts are valid");
    if let Some(seconds) = error.retry_after_seconds {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    browser(response)
}

/// Text made safe for HTML element content and double-quoted attributes.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

impl From<InputError> for ApiError {
    fn from(error: InputError) -> Self {
        ApiError::bad_request(error.code, error.message)
    }
}
