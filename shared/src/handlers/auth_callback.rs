//! `auth-callback`: `GET /connections/{provider}/callback` (browser, no JWT), where the provider
//! sends the user back. Redirects to the app's allow-listed return URL with the outcome, or
//! answers 400 without redirecting when the state cannot be trusted. A callback that repeats
//! `state`, `code`, `error` or `iss` is refused before anything is read or spent (400
//! `invalid_callback`, no redirect, the state left as it was, no code exchanged). Always clears
//! the binding cookie.

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
    let mut response = match super::provider(&params).and_then(|provider| Ok((provider, callback_query(&request)?))) {
        Ok((provider, query)) => {
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

/// The provider's answer, each parameter at most once.
fn callback_query(request: &Request) -> Result<CallbackQuery, ApiError> {
    let once = |name| {
        edge::single_query_param(request, name).map_err(|repeated| {
            tracing::warn!(parameter = %repeated.name, "callback refused: repeated parameter");
            ApiError::bad_request("invalid_callback", "this sign-in response is malformed; start again from the app")
        })
    };
    Ok(CallbackQuery { state: once("state")?, code: once("code")?, error: once("error")?, iss: once("iss")? })
}
