//! `create-meet`: `POST /sessions/{session_id}/meeting` (create a Meet or attach a link; the
//! caller is the host), `GET` (host and participants) and `DELETE` (host) on the same path.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::app::App;
use crate::domain::SessionId;
use crate::http::{self as edge, ApiError};
use crate::meetings::{self, MeetingError, MeetingRequest};

pub const MEETING_ROUTE: &str = "/sessions/{session_id}/meeting";

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let path = edge::path(request);
    let session = request.path_parameters_ref().and_then(|p| p.first("session_id")).map(str::to_owned);
    let (true, Some(session)) = (path.starts_with("/sessions/") && path.ends_with("/meeting"), session) else {
        return Err(ApiError::not_found());
    };
    let caller = edge::caller(request, &app.settings.tenant_claim)?;
    let session =
        SessionId::parse(&session).map_err(|e| ApiError::bad_request("invalid_request", format!("session id: {e}")))?;
    match *request.method() {
        Method::POST => {
            let body: MeetingRequest = edge::json_body(request)?;
            let (view, created) = meetings::create(app, &caller, &session, body).await?;
            Ok(edge::json(if created { StatusCode::CREATED } else { StatusCode::OK }, &view))
        }
        Method::GET => Ok(edge::json(StatusCode::OK, &meetings::get(app, &caller, &session).await?)),
        Method::DELETE => {
            meetings::delete(app, &caller, &session).await?;
            Ok(edge::no_content())
        }
        ref method => Err(super::unrouted(method)),
    }
}

impl From<MeetingError> for ApiError {
    fn from(error: MeetingError) -> Self {
        match error {
            MeetingError::Invalid { code, message } => ApiError::bad_request(code, message),
            MeetingError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such meeting"),
            MeetingError::NotConnected => ApiError::new(
                StatusCode::CONFLICT,
                "not_connected",
                "the host has not connected a Google account; attach an existing_url instead",
            ),
            MeetingError::NeedsReconnect => ApiError::new(
                StatusCode::CONFLICT,
                "needs_reconnect",
                "the host's Google connection has expired or was revoked; the host must connect again",
            ),
            MeetingError::CreationFailed => {
                ApiError::new(StatusCode::BAD_GATEWAY, "meet_creation_failed", "Google could not create the Meet")
            }
            MeetingError::Access(access) => access.into(),
        }
    }
}
