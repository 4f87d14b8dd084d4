//! `list-calendars`: `GET /calendars` (the caller's calendars, the selected one marked) and
//! `PUT /calendars/selected` `{"calendar_id"}` (choose the calendar that receives events).

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::app::App;
use crate::calendars::{self, CalendarsError};
use crate::http::{self as edge, ApiError};

pub const CALENDARS_PATH: &str = "/calendars";
pub const SELECTED_PATH: &str = "/calendars/selected";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectBody {
    calendar_id: Option<String>,
}

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(app, &request).await.unwrap_or_else(ApiError::into_response)
}

async fn respond(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    match (request.method(), edge::path(request)) {
        (&Method::GET, CALENDARS_PATH) => {
            let owner = edge::caller(request, &app.settings.tenant_claim)?;
            Ok(edge::json(StatusCode::OK, &calendars::list(app, &owner).await?))
        }
        (&Method::PUT, SELECTED_PATH) => {
            let owner = edge::caller(request, &app.settings.tenant_claim)?;
            let body: SelectBody = edge::json_body(request)?;
            let calendar_id =
                body.calendar_id.ok_or_else(|| ApiError::bad_request("invalid_request", "calendar_id is required"))?;
            let selected = calendars::select(app, &owner, &calendar_id).await?;
            Ok(edge::json(StatusCode::OK, &serde_json::json!({ "selected": selected })))
        }
        (method, _) => Err(super::unrouted(method)),
    }
}

impl From<CalendarsError> for ApiError {
    fn from(error: CalendarsError) -> Self {
        match error {
            CalendarsError::Access(access) => access.into(),
            CalendarsError::InvalidCalendarId => ApiError::bad_request("invalid_request", error.to_string()),
            CalendarsError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "calendar_not_found", error.to_string()),
            CalendarsError::NotWritable => ApiError::bad_request("calendar_not_writable", error.to_string()),
        }
    }
}
