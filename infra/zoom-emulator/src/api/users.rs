//! `GET /users/{userId}`: the authorized user's profile.
//!
//! Contract: `me`, the caller's own id or email answer 200 with Zoom's user
//! fields (`id`, `email`, `account_id`, `first_name`, `last_name`,
//! `display_name`, `type`, `timezone`, `pmi`, `status`, ...). Another existing
//! user is 400 code 200 "No permission." (a user-managed app acts for its
//! user only); an unknown one 404 code 1001. Scopes: `user:read:user` or the
//! classic `user:read`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::authorize;
use crate::faults::{Endpoint, intercept};
use crate::server::ConnectionControl;
use crate::state::{SharedEmulator, Store, User};
use crate::zoom_errors::ApiError;

const READ_SCOPES: [&str; 2] = ["user:read:user", "user:read"];

pub(super) async fn get_user(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::UsersMe]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let response = {
        let store = emulator.store();
        match authorize(&store, &headers, &READ_SCOPES).and_then(|caller| own_user(&store, &caller.user, &user_id)) {
            Ok(user) => axum::Json(json!({
                "id": user.id,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "display_name": format!("{} {}", user.first_name, user.last_name).trim().to_owned(),
                "email": user.email,
                "type": user.r#type,
                "role_name": "Owner",
                "pmi": user.pmi,
                "use_pmi": false,
                "timezone": user.timezone,
                "verified": 1,
                "dept": "",
                "created_at": format!("{:.0}", user.created_at),
                "user_created_at": format!("{:.0}", user.created_at),
                "last_login_time": format!("{:.0}", jiff::Timestamp::now()),
                "pic_url": "",
                "language": "en-US",
                "phone_number": "",
                "status": "active",
                "role_id": "0",
                "account_id": user.account_id,
                "account_number": 0,
                "cluster": "us05",
            }))
            .into_response(),
            Err(error) => error.into_response(),
        }
    };
    after.deliver(&connection, response).await
}

/// The user `path_id` names, if it is the caller; the errors Zoom gives otherwise.
pub(super) fn own_user<'a>(store: &'a Store, caller: &str, path_id: &str) -> Result<&'a User, ApiError> {
    match store.user_by_path_id(caller, path_id) {
        Some(user) if user.email == caller => Ok(user),
        Some(_) => Err(ApiError::new(axum::http::StatusCode::BAD_REQUEST, 200, "No permission.")),
        None => Err(ApiError::user_not_found(path_id)),
    }
}
