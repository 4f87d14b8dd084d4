//! `get-availability`: `POST /availability`, busy intervals and bookable slots for users of
//! the caller's tenant.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::availability::{self, AvailabilityRequest};

pub const AVAILABILITY: Route = Route::new(Method::POST, "/availability");
pub const ROUTES: &[Route] = &[AVAILABILITY];

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    edge::route(request, ROUTES)?;
    let caller = super::caller(app, request)?;
    let body: Option<AvailabilityRequest> = edge::json_body(request)?;
    let body = body.ok_or_else(|| {
        ApiError::bad_request("invalid_request", "a JSON body with time_min and time_max is required")
    })?;
    let view = availability::availability(app, &caller, body).await?;
    Ok(edge::json(StatusCode::OK, &view))
}
