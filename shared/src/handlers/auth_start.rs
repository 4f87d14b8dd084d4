//! `auth-start`: `POST /connections/{provider}/authorize` (app, JWT) mints a launch ticket;
//! `GET /connections/{provider}/launch?ticket=` (browser, no JWT) spends it, sets the
//! browser-binding cookie and redirects to the provider's consent page.

use http::header::SET_COOKIE;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::app::App;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::connect::{self, BINDING_COOKIE};

pub const AUTHORIZE: Route = Route::new(Method::POST, "/connections/{provider}/authorize");
pub const LAUNCH: Route = Route::new(Method::GET, "/connections/{provider}/launch");
pub const ROUTES: &[Route] = &[AUTHORIZE, LAUNCH];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeBody {
    /// Whom the service connects (a user may name only themselves).
    user_id: Option<String>,
    return_to: Option<String>,
    login_hint: Option<String>,
}

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let (route, params) = match edge::route(&request, ROUTES) {
        Ok(matched) => matched,
        Err(error) => return error.into_response(),
    };
    if *route == AUTHORIZE {
        authorize(app, &request, &params).await.unwrap_or_else(ApiError::into_response)
    } else {
        launch(app, &request, &params).await.unwrap_or_else(|error| edge::browser_error(&request, error))
    }
}

async fn authorize(app: &App, request: &Request, params: &edge::PathParams) -> Result<Response<Body>, ApiError> {
    let caller = super::caller(app, request)?;
    let body: AuthorizeBody = edge::json_body(request)?;
    let owner = caller.acting_for(body.user_id.as_deref(), "user_id")?.connection(super::provider(params)?);
    let ticket = connect::authorize(app, &owner, body.return_to.as_deref(), body.login_hint.as_deref()).await?;
    Ok(edge::json(StatusCode::OK, &ticket))
}

async fn launch(app: &App, request: &Request, params: &edge::PathParams) -> Result<Response<Body>, ApiError> {
    let provider = super::provider(params)?;
    let ticket = edge::query_param(request, "ticket").filter(|t| !t.is_empty()).ok_or_else(|| {
        ApiError::bad_request("invalid_ticket", "the connect link is incomplete; start again from the app")
    })?;
    let launch = connect::launch(app, provider, &ticket).await?;
    let mut response = edge::redirect(launch.location.as_str());
    let cookie = format!(
        "{BINDING_COOKIE}={}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Lax",
        launch.binding_cookie,
        launch.cookie_max_age.as_secs()
    );
    response.headers_mut().append(SET_COOKIE, cookie.parse().expect("base64url cookie values are valid header text"));
    Ok(response)
}
