//! `auth-callback`: `GET /connections/{provider}/callback` (browser, no JWT), where the provider
//! sends the user back. Redirects to the app's allow-listed return URL with the outcome, or
//! answers 400 without redirecting when the state cannot be trusted. Always clears the binding
//! cookie.

use http::Method;
use http::header::SET_COOKIE;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::connect::{self, BINDING_COOKIE, CallbackOutcome, CallbackQuery};

pub const CALLBACK: Route = Route::new(Method::GET, "/connections/{provider}/callback");
pub const ROUTES: &[Route] = &[CALLBACK];

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let params = match edge::route(&request, ROUTES) {
        Ok((_, params)) => params,
        Err(error) => return error.into_response(),
    };
    let mut response = match super::provider(&params) {
        Ok(provider) => {
            let query = CallbackQuery {
                state: edge::query_param(&request, "state"),
                code: edge::query_param(&request, "code"),
                error: edge::query_param(&request, "error"),
                iss: edge::query_param(&request, "iss"),
            };
            let cookie = edge::cookie(&request, BINDING_COOKIE);
            match connect::callback(app, provider, query, cookie.as_deref()).await {
                CallbackOutcome::Redirect { location, .. } => edge::redirect(location.as_str()),
                CallbackOutcome::Rejected(error) => edge::browser_error(&request, ApiError::from(error)),
            }
        }
        Err(error) => edge::browser_error(&request, error),
    };
    let clear = format!("{BINDING_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
    response.headers_mut().append(SET_COOKIE, clear.parse().expect("static cookie text is a valid header"));
    response
}
