//! `disconnect`: `GET /connections/google` (status) and `DELETE /connections/google`
//! (revoke at Google, then erase), both for the authenticated caller only.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::connect;
use crate::http::{self as edge, ApiError};

pub const CONNECTION_PATH: &str = "/connections/google";

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    if edge::path(request) != CONNECTION_PATH {
        return Err(ApiError::not_found());
    }
    match *request.method() {
        Method::GET => {
            let owner = edge::caller(request, &app.settings.tenant_claim)?;
            Ok(edge::json(StatusCode::OK, &connect::status(app, &owner).await?))
        }
        Method::DELETE => {
            let owner = edge::caller(request, &app.settings.tenant_claim)?;
            connect::disconnect(app, &owner).await?;
            Ok(edge::no_content())
        }
        ref method => Err(super::unrouted(method)),
    }
}
