//! The stand-in for API Gateway (HTTP API, payload format 2.0) in front of the functions.
//!
//! Contract: each HTTP request takes the route of `template.yaml` that API Gateway would pick,
//! is authorized like the JWT authorizer would on the routes that have one, and becomes the
//! very JSON event Lambda would deliver; all of that is the [`apigw`] emulation, shared with
//! `lambda-e2e`. The event goes through `lambda_http`'s own deserialisation into the function's
//! handler, so the local stack runs the production request path, not a fork of it.
//!
//! This file holds only what is local: which function serves which route (the table below,
//! kept apart so that renaming the handlers touches nothing else), the axum glue, and the
//! handler's `lambda_http` response made an axum one.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use calbridge::app::App;
use calbridge::handlers::{
    auth_callback, auth_start, create_meet, disconnect, get_availability, list_calendars, send_email, sync_appointment,
};

use crate::authorizer::DevAuthorizer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    AuthStart,
    AuthCallback,
    Disconnect,
    ListCalendars,
    GetAvailability,
    SyncAppointment,
    CreateMeet,
    SendEmail,
}

pub type Route = apigw::Route<Function>;

/// The HTTP API's routes: the same table as `template.yaml`, taken from each function's own
/// route list.
pub fn routes() -> Vec<Route> {
    let public = &[
        auth_start::LAUNCH,
        auth_start::LAUNCH_CONTINUE,
        auth_callback::CALLBACK,
        get_availability::BOOKING_SLOTS,
        disconnect::ZOOM_WEBHOOK,
    ];
    let functions: [(Function, &[calbridge::http::Route]); 8] = [
        (Function::AuthStart, auth_start::ROUTES),
        (Function::AuthCallback, auth_callback::ROUTES),
        (Function::Disconnect, disconnect::ROUTES),
        (Function::ListCalendars, list_calendars::ROUTES),
        (Function::GetAvailability, get_availability::ROUTES),
        (Function::SyncAppointment, sync_appointment::ROUTES),
        (Function::CreateMeet, create_meet::ROUTES),
        (Function::SendEmail, send_email::ROUTES),
    ];
    functions
        .into_iter()
        .flat_map(|(function, routes)| {
            routes.iter().map(move |route| {
                Route::new(route.method.clone(), route.pattern, !public.contains(route), function)
                    .unwrap_or_else(|e| panic!("a handler's route constant: {e}"))
            })
        })
        .collect()
}

async fn invoke(
    app: &App,
    function: Function,
    request: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    match function {
        Function::AuthStart => auth_start::handle(app, request).await,
        Function::AuthCallback => auth_callback::handle(app, request).await,
        Function::Disconnect => disconnect::handle(app, request).await,
        Function::ListCalendars => list_calendars::handle(app, request).await,
        Function::GetAvailability => get_availability::handle(app, request).await,
        Function::SyncAppointment => sync_appointment::handle(app, request).await,
        Function::CreateMeet => create_meet::handle(app, request).await,
        Function::SendEmail => send_email::handle(app, request).await,
    }
}

pub struct Gateway {
    pub app: App,
    pub authorizer: DevAuthorizer,
    pub api: apigw::Api,
    pub routes: Vec<Route>,
}

/// The API as the local stack presents it: plain HTTP on `port` of this machine.
pub fn local_api(port: u16) -> apigw::Api {
    apigw::Api {
        account_id: "000000000000".into(),
        api_id: "local".into(),
        domain_name: "localhost".into(),
        source_ip: "127.0.0.1".into(),
        scheme: "http".into(),
        port,
    }
}

pub async fn handle(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(taken) = apigw::select(&gateway.routes, &parts.method, parts.uri.path()) else {
        return refuse(apigw::GatewayError::NotFound);
    };
    let claims = if taken.route.jwt {
        let header = parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match gateway.authorizer.verify(header) {
            Some(claims) => Some(claims.into_iter().collect()),
            None => return refuse(apigw::GatewayError::Unauthorized),
        }
    } else {
        None
    };
    let Ok(body) = axum::body::to_bytes(body, apigw::MAX_BODY_BYTES).await else {
        return refuse(apigw::GatewayError::TooLarge);
    };
    let request = apigw::Request { claims, ..apigw::Request::from_parts(&parts, &body) };
    let event = gateway.api.event(taken.route, &taken.parameters, &request);
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(e) => {
            tracing::error!(error = %e, "event does not deserialise");
            return refuse(apigw::GatewayError::Internal);
        }
    };
    // Lambda would give the function its timeout from now; the local stack bounds it the same way.
    let deadline = tokio::time::Instant::now() + calbridge::usecases::deadline::REQUEST_TIMEOUT;
    let html = calbridge::http::wants_html(&request);
    into_http(calbridge::runtime::respond_by(deadline, html, invoke(&gateway.app, taken.route.target, request)).await)
}

fn refuse(error: apigw::GatewayError) -> Response {
    error.response().map(Body::from).into_response()
}

/// The handler's response as sent. `lambda_http` itself would reshape it into a payload-2.0
/// answer that `apigw::http_response` reads back; in process there is nothing to reshape.
fn into_http(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Body::from(bytes))
}
