//! `list-calendars`: `GET /calendars` (the caller's calendars, the selected one marked) and
//! `PUT /calendars/selected` `{"calendar_id"}` (choose the calendar that receives events), for
//! the calling user, or for the user the service names (`?user_id=`, or `user_id` in the body).

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::app::App;
use crate::http::{self as edge, ApiError, Route};
use crate::usecases::calendars;

pub const LIST: Route = Route::new(Method::GET, "/calendars");
pub const SELECT: Route = Route::new(Method::PUT, "/calendars/selected");
pub const ROUTES: &[Route] = &[LIST, SELECT];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectBody {
    user_id: Option<String>,
    calendar_id: Option<String>,
}

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let (route, _) = edge::route(request, ROUTES)?;
    let caller = super::caller(app, request)?;
    if *route == LIST {
        let owner = caller.acting_for(edge::query_param(request, "user_id").as_deref(), "user_id")?;
        return Ok(edge::json(StatusCode::OK, &calendars::list(app, &owner).await?));
    }
    let body: SelectBody = edge::json_body(request)?;
    let owner = caller.acting_for(body.user_id.as_deref(), "user_id")?;
    let calendar_id =
        body.calendar_id.ok_or_else(|| ApiError::bad_request("invalid_request", "calendar_id is required"))?;
    let selected = calendars::select(app, &owner, &calendar_id).await?;
    Ok(edge::json(StatusCode::OK, &serde_json::json!({ "selected": selected })))
}
