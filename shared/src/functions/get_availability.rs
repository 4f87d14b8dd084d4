//! `get-availability`: `POST /availability`, busy intervals and bookable slots for users of
//! the caller's tenant.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::availability::{self, AvailabilityError, AvailabilityRequest};
use crate::http::{self as edge, ApiError};

pub const AVAILABILITY_PATH: &str = "/availability";

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    if (request.method(), edge::path(request)) != (&Method::POST, AVAILABILITY_PATH) {
        return Err(super::unrouted(request.method()));
    }
    let caller = edge::caller(request, &app.settings.tenant_claim)?;
    let body: Option<AvailabilityRequest> = edge::json_body(request)?;
    let body = body.ok_or_else(|| {
        ApiError::bad_request("invalid_request", "a JSON body with time_min and time_max is required")
    })?;
    let view = availability::availability(app, &caller, body).await?;
    Ok(edge::json(StatusCode::OK, &view))
}

impl From<AvailabilityError> for ApiError {
    fn from(error: AvailabilityError) -> Self {
        match error {
            AvailabilityError::Invalid { code, message } => ApiError::bad_request(code, message),
            AvailabilityError::Slots(slots) => ApiError::bad_request(slots.code(), slots.to_string()),
            AvailabilityError::Access(access) => access.into(),
        }
    }
}
