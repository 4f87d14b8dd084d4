//! `auth-callback`: `GET /connections/google/callback` (browser, no JWT), where Google sends
//! the user back. Redirects to the app's allow-listed return URL with the outcome, or answers
//! 400 without redirecting when the state cannot be trusted. Always clears the binding cookie.

use http::Method;
use http::header::SET_COOKIE;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::connect::{self, BINDING_COOKIE, CallbackOutcome, CallbackQuery};
use crate::http::{self as edge, ApiError};

pub const CALLBACK_PATH: &str = "/connections/google/callback";

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    if (request.method(), edge::path(&request)) != (&Method::GET, CALLBACK_PATH) {
        return super::unrouted(request.method()).into_response();
    }
    let query = CallbackQuery {
        state: edge::query_param(&request, "state"),
        code: edge::query_param(&request, "code"),
        error: edge::query_param(&request, "error"),
        iss: edge::query_param(&request, "iss"),
    };
    let cookie = edge::cookie(&request, BINDING_COOKIE);
    let mut response = match connect::callback(app, query, cookie.as_deref()).await {
        CallbackOutcome::Redirect { location, .. } => edge::redirect(location.as_str()),
        CallbackOutcome::Rejected(error) => edge::browser_error(&request, ApiError::from(error)),
    };
    let clear = format!("{BINDING_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
    response.headers_mut().append(SET_COOKIE, clear.parse().expect("static cookie text is a valid header"));
    response
}
