//! `create-meet`: `POST /sessions/{session_id}/meeting` (create a Meet or attach a link; the
//! caller is the host), `GET` (host and participants) and `DELETE` (host) on the same path.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::domain::SessionId;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::meetings::{self, MeetingRequest};

pub const CREATE: Route = Route::new(Method::POST, "/sessions/{session_id}/meeting");
pub const GET: Route = Route::new(Method::GET, "/sessions/{session_id}/meeting");
pub const DELETE: Route = Route::new(Method::DELETE, "/sessions/{session_id}/meeting");
pub const ROUTES: &[Route] = &[CREATE, GET, DELETE];

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
    } else if *route == GET {
        Ok(edge::json(StatusCode::OK, &meetings::get(app, &caller, &session).await?))
    } else {
        meetings::delete(app, &caller, &session).await?;
        Ok(edge::no_content())
    }
}
