//! The Zoom REST API surface calbridge uses, mounted under the configured base
//! path (`/v2` by default, like `https://api.zoom.us/v2`), plus the `start_url`
//! target a host opens.
//!
//! Contract: every API call needs `Authorization: Bearer <access token>`; an
//! unknown, expired or revoked token (or one whose grant was revoked or
//! deauthorized) is 401 `{"code":124,"message":"Invalid access token."}`. A
//! token lacking every scope an endpoint accepts is 400 code 4711. Errors are
//! `{"code","message"}` (validation failures add `errors: [{field, message}]`).

mod meetings;
mod users;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::get;
use jiff::Timestamp;

use crate::oauth::bearer_token;
use crate::state::{Caller, SharedEmulator, Store};
use crate::zoom_errors::ApiError;

pub(crate) fn routes() -> Router<SharedEmulator> {
    Router::new()
        .route("/users/{user_id}", get(users::get_user))
        .route("/users/{user_id}/meetings", axum::routing::post(meetings::create).get(meetings::list))
        .route("/meetings/{meeting_id}", get(meetings::get).patch(meetings::patch).delete(meetings::delete))
}

/// `GET /s/{meetingId}?zak=...`, outside the API base: where a `start_url` leads.
pub(crate) fn start_url_routes() -> Router<SharedEmulator> {
    Router::new().route("/s/{meeting_id}", get(meetings::start))
}

/// The caller behind the request's Bearer token, if it holds one of `accepted`.
fn authorize(store: &Store, headers: &HeaderMap, accepted: &[&str]) -> Result<Caller, ApiError> {
    let caller = bearer_token(headers)
        .and_then(|token| store.authenticate(token, Timestamp::now()))
        .ok_or_else(ApiError::invalid_access_token)?;
    if accepted.iter().any(|scope| caller.scopes.contains(*scope)) {
        Ok(caller)
    } else {
        Err(ApiError::missing_scopes(accepted))
    }
}

/// `http://{Host}` unless a web base URL is configured: where join and start
/// URLs point.
fn web_base(configured: &Option<String>, headers: &HeaderMap) -> String {
    match configured {
        Some(base) => base.clone(),
        None => {
            let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}
