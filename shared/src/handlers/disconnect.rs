//! `disconnect`: `GET /connections/{provider}` (status) and `DELETE /connections/{provider}`
//! (revoke at the provider unless another connection shares the grant, then erase; answers
//! 200 with what was done), for the calling user, or for the user the service names in
//! `?user_id=`.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::connect;

pub const STATUS: Route = Route::new(Method::GET, "/connections/{provider}");
pub const DISCONNECT: Route = Route::new(Method::DELETE, "/connections/{provider}");
pub const ROUTES: &[Route] = &[STATUS, DISCONNECT];

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let (route, params) = edge::route(request, ROUTES)?;
    let caller = super::caller(app, request)?;
    let named = edge::query_param(request, "user_id");
    let owner = caller.acting_for(named.as_deref(), "user_id")?.connection(super::provider(&params)?);
    if *route == STATUS {
        Ok(edge::json(StatusCode::OK, &connect::status(app, &owner).await?))
    } else {
        Ok(edge::json(StatusCode::OK, &connect::disconnect(app, &owner).await?))
    }
}
