//! `disconnect`: a connection's status and its removal, for the calling user or for the user
//! the service names, and the service's admin view of its tenant's connections.
//!
//! - `GET /connections/{provider}` (status) and `DELETE /connections/{provider}` (revoke at
//!   the provider unless another connection shares the grant, then erase; answers 200 with
//!   what was done), for the caller, or for the user the service names in `?user_id=`.
//! - `GET /connections?provider=&status=&limit=&cursor=` (service only): one page of the
//!   tenant's connections ([`connect::listing`]).
//! - `DELETE /users/{user_id}/connections/{provider}` (service only): offboards a user, the
//!   same revoke-then-erase as the disconnect, with the same answer.
//!
//! - `POST /webhooks/zoom` (no JWT: Zoom signs it): Zoom's URL validation and deauthorization
//!   events ([`zoom_webhook`]), matched before any caller is read.
//!
//! A user calling a service-only route is 403 `forbidden`. The listing's parameters may each
//! appear once (a repeated one is 400 `invalid_request`).

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::http::{self as edge, ApiError, RepeatedParam, Route};
use crate::usecases::connect::{self, listing};
use crate::usecases::zoom_webhook::{self, Delivery};

pub const STATUS: Route = Route::new(Method::GET, "/connections/{provider}");
pub const DISCONNECT: Route = Route::new(Method::DELETE, "/connections/{provider}");
pub const LIST: Route = Route::new(Method::GET, "/connections");
pub const OFFBOARD: Route = Route::new(Method::DELETE, "/users/{user_id}/connections/{provider}");
pub const ZOOM_WEBHOOK: Route = Route::new(Method::POST, "/webhooks/zoom");
pub const ROUTES: &[Route] = &[STATUS, DISCONNECT, LIST, OFFBOARD, ZOOM_WEBHOOK];

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let (route, params) = edge::route(request, ROUTES)?;
    if *route == ZOOM_WEBHOOK {
        return zoom_webhook(app, request).await;
    }
    let caller = super::caller(app, request)?;
    if *route == LIST {
        let tenant = caller.require_service("only the service may list the tenant's connections")?;
        let param = |name| edge::single_query_param(request, name).map_err(repeated);
        let (provider, status, cursor, limit) =
            (param("provider")?, param("status")?, param("cursor")?, param("limit")?);
        let query = listing::ListRequest {
            provider: provider.as_deref(),
            status: status.as_deref(),
            cursor: cursor.as_deref(),
            limit: limit.as_deref(),
        };
        return Ok(edge::json(StatusCode::OK, &listing::list(app, tenant, query).await?));
    }
    if *route == OFFBOARD {
        caller.require_service("only the service may offboard a user")?;
        let owner = caller.acting_for(Some(params.get("user_id")), "user_id")?.connection(super::provider(&params)?);
        return Ok(edge::json(StatusCode::OK, &connect::disconnect(app, &owner).await?));
    }
    let named = edge::query_param(request, "user_id");
    let owner = caller.acting_for(named.as_deref(), "user_id")?.connection(super::provider(&params)?);
    if *route == STATUS {
        Ok(edge::json(StatusCode::OK, &connect::status(app, &owner).await?))
    } else {
        Ok(edge::json(StatusCode::OK, &connect::disconnect(app, &owner).await?))
    }
}

/// Zoom's webhook: the body bounded before anything else, then the use case verifies it.
async fn zoom_webhook(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let body: &[u8] = request.body().as_ref();
    if body.len() > edge::MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body may be at most {} KiB", edge::MAX_BODY_BYTES / 1024),
        ));
    }
    let delivery = Delivery {
        timestamp: single_header(request, "x-zm-request-timestamp"),
        signature: single_header(request, "x-zm-signature"),
        body,
    };
    Ok(edge::json(StatusCode::OK, &zoom_webhook::receive(app, delivery).await?))
}

/// A header's value when it appears exactly once, as text; a repeated one is as good as missing.
fn single_header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    let mut values = request.headers().get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

fn repeated(error: RepeatedParam) -> ApiError {
    ApiError::bad_request("invalid_request", error.to_string())
}
