//! One handler per Lambda function, each `async fn handle(&App, Request) -> Response<Body>`.
//!
//! The binaries in `functions/<name>` only wire an [`App`](crate::app::App) to these through
//! [`crate::runtime`]; the local stack serves the very same functions behind the same paths.
//! Each handler declares its routes (the patterns of `template.yaml`), matches them with
//! [`crate::http::route`], parses input into domain types, calls a use case and answers
//! through [`crate::http`], whose `From` impls are the one map from errors to responses.

pub mod auth_callback;
pub mod auth_start;
pub mod create_meet;
pub mod disconnect;
pub mod get_availability;
pub mod list_calendars;
pub mod send_email;
pub mod sync_appointment;

use crate::app::App;
use crate::domain::{Principal, Provider};
use crate::http::{self as edge, ApiError, PathParams};

/// The provider a connection route names. Whether this deployment offers it is the use
/// case's question (`App::oauth`), answered 404 `unknown_provider` like an unknown name.
fn provider(params: &PathParams) -> Result<Provider, ApiError> {
    Ok(Provider::parse(params.get("provider"))?)
}

/// The authenticated caller of a JWT route.
fn caller(app: &App, request: &lambda_http::Request) -> Result<Principal, ApiError> {
    edge::caller(request, &app.settings.identity)
}
