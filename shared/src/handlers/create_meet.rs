//! `create-meet`: `POST /sessions/{session_id}/meeting` (create a Meet or a Zoom meeting, move
//! a Zoom meeting, or attach a link), `GET` (host, participants, service) and `DELETE` (host,
//! service) on the same path, and `GET /sessions/{session_id}/meeting/start` (the host only):
//! a fresh Zoom start link, as JSON, or as a 302 to it with `?redirect=true`.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::domain::SessionId;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::meetings::{self, MeetingRequest};

pub const CREATE: Route = Route::new(Method::POST, "/sessions/{session_id}/meeting");
pub const GET: Route = Route::new(Method::GET, "/sessions/{session_id}/meeting");
pub const DELETE: Route = Route::new(Method::DELETE, "/sessions/{session_id}/meeting");
pub const START: Route = Route::new(Method::GET, "/sessions/{session_id}/meeting/start");
pub const ROUTES: &[Route] = &[CREATE, GET, DELETE, START];

/// The host's start link. `no-store` comes with every response (see [`edge::json`]).
#[derive(serde::Serialize)]
struct StartLinkView<'a> {
    session_id: &'a str,
    start_url: &'a str,
}

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let (route, params) = edge::route(request, ROUTES)?;
    let caller = super::caller(app, request)?;
    let session = SessionId::parse(params.get("session_id"))
        .map_err(|e| ApiError::bad_request("invalid_request", format!("session id: {e}")))?;
    if *route == CREATE {
        let body: MeetingRequest = edge::json_body(request)?;
        let (view, created) = meetings::create(app, &caller, &session, body).await?;
        Ok(edge::json(if created { StatusCode::CREATED } else { StatusCode::OK }, &view))
    } else if *route == START {
        let redirect = match edge::single_query_param(request, "redirect") {
            Ok(None) => false,
            Ok(Some(value)) if value == "true" => true,
            Ok(Some(value)) if value == "false" => false,
            _ => return Err(ApiError::bad_request("invalid_request", "redirect must be true or false, once")),
        };
        let link = meetings::start_link(app, &caller, &session).await?;
        if redirect {
            return Ok(edge::redirect(link.expose()));
        }
        Ok(edge::json(StatusCode::OK, &StartLinkView { session_id: session.as_str(), start_url: link.expose() }))
    } else if *route == GET {
        Ok(edge::json(StatusCode::OK, &meetings::get(app, &caller, &session).await?))
    } else {
        meetings::delete(app, &caller, &session).await?;
        Ok(edge::no_content())
    }
}
