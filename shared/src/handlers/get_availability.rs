//! `get-availability`: `POST /availability`, busy intervals and bookable slots for users of
//! the caller's tenant; and booking links: `POST /booking-links` and
//! `DELETE /booking-links/{id}` (JWT) mint and revoke them, `GET /booking/{token}/slots` (no
//! JWT: the token is the credential) serves a link's slots.

use http::{Method, StatusCode};
use jiff::Timestamp;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::availability::{self, AvailabilityRequest};
use crate::usecases::booking::{self, MintRequest};

pub const AVAILABILITY: Route = Route::new(Method::POST, "/availability");
pub const MINT_BOOKING_LINK: Route = Route::new(Method::POST, "/booking-links");
pub const REVOKE_BOOKING_LINK: Route = Route::new(Method::DELETE, "/booking-links/{id}");
pub const BOOKING_SLOTS: Route = Route::new(Method::GET, "/booking/{token}/slots");
pub const ROUTES: &[Route] = &[AVAILABILITY, MINT_BOOKING_LINK, REVOKE_BOOKING_LINK, BOOKING_SLOTS];

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let (route, params) = edge::route(request, ROUTES)?;
    if *route == BOOKING_SLOTS {
        // The one route without a JWT: the token in the path is checked by the use case.
        let (time_min, time_max) = (timestamp_param(request, "time_min")?, timestamp_param(request, "time_max")?);
        let view = booking::slots(app, params.get("token"), time_min, time_max).await?;
        return Ok(edge::json(StatusCode::OK, &view));
    }
    let caller = super::caller(app, request)?;
    if *route == MINT_BOOKING_LINK {
        let body: Option<MintRequest> = edge::json_body(request)?;
        let body = body.ok_or_else(|| {
            ApiError::bad_request(
                "invalid_request",
                "a JSON body with user_ids, time_min, time_max, slots and expires_at is required",
            )
        })?;
        return Ok(edge::json(StatusCode::CREATED, &booking::mint(app, &caller, body).await?));
    }
    if *route == REVOKE_BOOKING_LINK {
        booking::revoke(app, &caller, params.get("id")).await?;
        return Ok(edge::no_content());
    }
    let body: Option<AvailabilityRequest> = edge::json_body(request)?;
    let body = body.ok_or_else(|| {
        ApiError::bad_request("invalid_request", "a JSON body with time_min and time_max is required")
    })?;
    let view = availability::availability(app, &caller, body).await?;
    Ok(edge::json(StatusCode::OK, &view))
}

/// An optional RFC 3339 query parameter.
fn timestamp_param(request: &Request, name: &'static str) -> Result<Option<Timestamp>, ApiError> {
    edge::query_param(request, name)
        .map(|raw| {
            raw.parse::<Timestamp>()
                .map_err(|_| ApiError::bad_request("invalid_request", format!("{name} must be an RFC 3339 timestamp")))
        })
        .transpose()
}
