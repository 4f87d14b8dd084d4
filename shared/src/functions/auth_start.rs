//! `auth-start`: `POST /connections/google/authorize` (app, JWT) mints a launch ticket;
//! `GET /connections/google/launch?ticket=` (browser, no JWT) spends it, sets the
//! browser-binding cookie and redirects to Google's consent page.

use http::Method;
use http::header::SET_COOKIE;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::app::App;
use crate::connect::{self, BINDING_COOKIE};
use crate::http::{self as edge, ApiError};

pub const AUTHORIZE_PATH: &str = "/connections/google/authorize";
pub const LAUNCH_PATH: &str = "/connections/google/launch";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeBody {
    return_to: Option<String>,
    login_hint: Option<String>,
}

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    match (request.method(), edge::path(&request)) {
        (&Method::POST, AUTHORIZE_PATH) => authorize(app, &request).await.unwrap_or_else(ApiError::into_response),
        (&Method::GET, LAUNCH_PATH) => match launch(app, &request).await {
            Ok(response) => response,
            Err(error) => edge::browser_error(&request, error),
        },
        (method, _) => super::unrouted(method).into_response(),
    }
}

async fn authorize(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let owner = edge::caller(request, &app.settings.tenant_claim)?;
    let body: AuthorizeBody = edge::json_body(request)?;
    let ticket = connect::authorize(app, &owner, body.return_to.as_deref(), body.login_hint.as_deref()).await?;
    Ok(edge::json(http::StatusCode::OK, &ticket))
}

async fn launch(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let ticket = edge::query_param(request, "ticket").filter(|t| !t.is_empty()).ok_or_else(|| {
        ApiError::bad_request("invalid_ticket", "the connect link is incomplete; start again from the app")
    })?;
    let launch = connect::launch(app, &ticket).await?;
    let mut response = edge::redirect(launch.location.as_str());
    let cookie = format!(
        "{BINDING_COOKIE}={}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Lax",
        launch.binding_cookie,
        launch.cookie_max_age.as_secs()
    );
    response.headers_mut().append(SET_COOKIE, cookie.parse().expect("base64url cookie values are valid header text"));
    Ok(response)
}
