//! `auth-start`: `POST /connections/{provider}/authorize` (app, JWT) mints a launch ticket;
//! `GET /connections/{provider}/launch?ticket=` (browser, no JWT) spends it and shows a
//! confirmation page naming the app account being connected (and sets the browser-binding
//! cookie); the page's "Continue" button, `POST /connections/{provider}/launch` with the
//! page's form token, redirects to the provider's consent page. See `infra/DEPLOY.md`,
//! "Connect links", for why the extra step exists.

use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{Method, StatusCode};
use jiff::SignedDuration;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::app::App;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::connect::{self, BINDING_COOKIE, LaunchConfirmation};

pub const AUTHORIZE: Route = Route::new(Method::POST, "/connections/{provider}/authorize");
pub const LAUNCH: Route = Route::new(Method::GET, "/connections/{provider}/launch");
pub const LAUNCH_CONTINUE: Route = Route::new(Method::POST, "/connections/{provider}/launch");
pub const ROUTES: &[Route] = &[AUTHORIZE, LAUNCH, LAUNCH_CONTINUE];

/// The confirmation form's one field.
pub const FORM_TOKEN_FIELD: &str = "form_token";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeBody {
    /// Whom the service connects (a user may name only themselves).
    user_id: Option<String>,
    return_to: Option<String>,
    login_hint: Option<String>,
    /// How the app names the user (e.g. their email in the app), shown on the launch page.
    account_label: Option<String>,
}

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let (route, params) = match edge::route(&request, ROUTES) {
        Ok(matched) => matched,
        Err(error) => return error.into_response(),
    };
    if *route == AUTHORIZE {
        authorize(app, &request, &params).await.unwrap_or_else(ApiError::into_response)
    } else if *route == LAUNCH {
        confirm(app, &request, &params).await.unwrap_or_else(|error| edge::browser_error(&request, error))
    } else {
        launch(app, &request, &params).await.unwrap_or_else(|error| edge::browser_error(&request, error))
    }
}

async fn authorize(app: &App, request: &Request, params: &edge::PathParams) -> Result<Response<Body>, ApiError> {
    let caller = super::caller(app, request)?;
    let body: AuthorizeBody = edge::json_body(request)?;
    let owner = caller.acting_for(body.user_id.as_deref(), "user_id")?.connection(super::provider(params)?);
    let request = connect::AuthorizeRequest {
        return_to: body.return_to.as_deref(),
        login_hint: body.login_hint.as_deref(),
        account_label: body.account_label.as_deref(),
    };
    let ticket = connect::authorize(app, &owner, request).await?;
    Ok(edge::json(StatusCode::OK, &ticket))
}

fn incomplete_link() -> ApiError {
    ApiError::bad_request("invalid_ticket", "the connect link is incomplete; start again from the app")
}

async fn confirm(app: &App, request: &Request, params: &edge::PathParams) -> Result<Response<Body>, ApiError> {
    let provider = super::provider(params)?;
    let ticket = edge::query_param(request, "ticket").filter(|t| !t.is_empty()).ok_or_else(incomplete_link)?;
    let confirmation = connect::confirm_launch(app, provider, &ticket).await?;
    let mut response = confirmation_page(&confirmation);
    set_binding_cookie(&mut response, &confirmation.binding_cookie, confirmation.cookie_max_age);
    Ok(response)
}

async fn launch(app: &App, request: &Request, params: &edge::PathParams) -> Result<Response<Body>, ApiError> {
    let provider = super::provider(params)?;
    let form_token = edge::form_field(request, FORM_TOKEN_FIELD)
        .map_err(|_| incomplete_link())?
        .filter(|t| !t.is_empty())
        .ok_or_else(incomplete_link)?;
    let cookie = edge::cookie(request, BINDING_COOKIE);
    let launch = connect::launch(app, provider, &form_token, cookie.as_deref()).await?;
    let mut response = edge::see_other(launch.location.as_str());
    set_binding_cookie(&mut response, &launch.binding_cookie, launch.cookie_max_age);
    Ok(response)
}

fn set_binding_cookie(response: &mut Response<Body>, value: &str, max_age: SignedDuration) {
    let cookie =
        format!("{BINDING_COOKIE}={value}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Lax", max_age.as_secs());
    response.headers_mut().append(SET_COOKIE, cookie.parse().expect("base64url cookie values are valid header text"));
}

/// The page that names the app account before anything goes to the provider. No script; the
/// form posts to this same URL; every shown value is escaped.
fn confirmation_page(confirmation: &LaunchConfirmation) -> Response<Body> {
    let owner = &confirmation.owner;
    let provider = edge::html_escape(confirmation.provider_name);
    let account = match &confirmation.account_label {
        Some(label) => format!(
            "<strong>{}</strong> (user id {})",
            edge::html_escape(label),
            edge::html_escape(owner.user.as_str())
        ),
        None => format!("user id <strong>{}</strong>", edge::html_escape(owner.user.as_str())),
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Connect {provider}</title></head><body>\
         <h1>Connect your {provider} account</h1>\
         <p>You are connecting a {provider} account to the app account {account}.</p>\
         <p>The app will be able to use that {provider} account for you. If this is not your app account, \
         close this page: someone may have sent you this link to reach your {provider} account.</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"{FORM_TOKEN_FIELD}\" value=\"{}\">\
         <button type=\"submit\">Continue to {provider}</button></form></body></html>",
        edge::html_escape(&confirmation.form_token),
    );
    let response = Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        // form-action also governs where the form's redirect may go: the provider's consent page.
        .header(
            "content-security-policy",
            format!(
                "default-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' {}",
                confirmation.consent_origin
            ),
        )
        .body(Body::from(page))
        .expect("static response parts are valid");
    edge::browser(response)
}
