//! Every use-case error mapped to what the client sees, in one place.
//!
//! Contract: input errors are 400 with their own code; the user's own state (not connected,
//! needs reconnect) is 409; an unknown or unconfigured provider is 404 `unknown_provider`; a
//! provider refusing is 502; a user's Google call budget being spent is 429 `rate_limited` with
//! `Retry-After` (seconds to the next minute); a dependency that is down is 503 with
//! `Retry-After`; anything else is 500. A booking link that does not verify is 401
//! `invalid_booking_link`; one that expired or was revoked is 410 (`booking_link_expired`,
//! `booking_link_revoked`). Zoom's rate limits and the host's daily meeting cap are 429
//! `zoom_rate_limited` with Zoom's `Retry-After` in seconds; a host's unusable connection for
//! a meeting names the provider as `error.provider`. A webhook whose signature does not verify
//! is 401 `invalid_signature`, one delivered again is 401 `replayed`. Every 5xx logs its cause
//! chain here (see [`ApiError::internal`]) and shows none of it.

use http::StatusCode;

use super::ApiError;
use crate::domain::{ActingError, Provider, UnknownProvider};
use crate::errors::ErrorChain;
use crate::ports::{GoogleApiError, OAuthError, StoreError, ZoomApiError};
use crate::usecases::access_tokens::{AccessError, NotUsable};
use crate::usecases::availability::AvailabilityError;
use crate::usecases::booking::BookingError;
use crate::usecases::calendars::CalendarsError;
use crate::usecases::connect::ConnectError;
use crate::usecases::connect::listing::ListError;
use crate::usecases::mail::MailError;
use crate::usecases::meetings::MeetingError;
use crate::usecases::sync::SyncError;
use crate::usecases::zoom_webhook::WebhookError;

impl From<ActingError> for ApiError {
    fn from(error: ActingError) -> Self {
        match error {
            ActingError::UserRequired(_) => ApiError::bad_request("user_required", error.to_string()),
            ActingError::InvalidUser { .. } => ApiError::bad_request("invalid_request", error.to_string()),
            ActingError::Forbidden(why) => ApiError::forbidden(why),
        }
    }
}

impl From<UnknownProvider> for ApiError {
    fn from(_: UnknownProvider) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "unknown_provider", "this deployment does not offer that provider")
    }
}

impl From<ConnectError> for ApiError {
    fn from(error: ConnectError) -> Self {
        match &error {
            ConnectError::UnknownProvider(unknown) => (*unknown).into(),
            ConnectError::InvalidReturnTo(_) => ApiError::bad_request(
                "invalid_return_to",
                "return_to must exactly match one of the allowed return URLs",
            ),
            ConnectError::InvalidRequest(message) => ApiError::bad_request("invalid_request", *message),
            ConnectError::InvalidTicket => ApiError::bad_request("invalid_ticket", error.to_string()),
            ConnectError::InvalidState => ApiError::bad_request("invalid_state", error.to_string()),
            ConnectError::BrowserMismatch => ApiError::bad_request("browser_mismatch", error.to_string()),
            ConnectError::Store(StoreError::Unavailable(_)) | ConnectError::Secrets(_) => {
                ApiError::unavailable("dependency unavailable", &error)
            }
            ConnectError::Store(_) | ConnectError::Tokens(_) => ApiError::internal("request failed", &error),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> Self {
        match &error {
            ListError::InvalidLimit | ListError::InvalidStatus => {
                ApiError::bad_request("invalid_request", error.to_string())
            }
            ListError::InvalidCursor => ApiError::bad_request("invalid_cursor", error.to_string()),
            ListError::UnknownProvider(unknown) => (*unknown).into(),
            ListError::Store(StoreError::Unavailable(_)) => ApiError::unavailable("dependency unavailable", &error),
            ListError::Store(_) => ApiError::internal("request failed", &error),
        }
    }
}

/// The user's budget of Google calls for this minute is spent.
fn rate_limited(retry_after: std::time::Duration) -> ApiError {
    ApiError {
        retry_after_seconds: Some(retry_after.as_secs().max(1)),
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many Google calls for this user this minute; try again after Retry-After seconds",
        )
    }
}

/// The user's own Google connection cannot be used (calendar routes).
fn user_not_usable(state: NotUsable) -> ApiError {
    match state {
        NotUsable::NotConnected => ApiError::conflict("not_connected", "the user has not connected a Google account"),
        NotUsable::NeedsReconnect => ApiError::conflict(
            "needs_reconnect",
            "the user's Google connection has expired or was revoked; the user must connect again",
        ),
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match &error {
            AccessError::NotUsable(state) => user_not_usable(*state),
            AccessError::UnknownProvider => UnknownProvider.into(),
            AccessError::Google(google) if google.is_retryable() => {
                let mut api = ApiError::unavailable("google unavailable after retries", &error);
                if let GoogleApiError::RateLimited { retry_after: Some(after) } = google {
                    api.retry_after_seconds = Some(after.as_secs().max(1));
                }
                api
            }
            AccessError::Refresh(OAuthError::Unavailable(_)) | AccessError::Store(StoreError::Unavailable(_)) => {
                ApiError::unavailable("dependency unavailable", &error)
            }
            AccessError::Google(_) | AccessError::Refresh(_) => {
                tracing::warn!(error = %ErrorChain(&error), "google refused the request");
                ApiError::new(StatusCode::BAD_GATEWAY, "google_error", "Google refused the request")
            }
            AccessError::OverBudget { retry_after } => rate_limited(*retry_after),
            AccessError::Store(_) | AccessError::Tokens(_) | AccessError::Replaced => {
                ApiError::internal("request failed", &error)
            }
        }
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

impl From<AvailabilityError> for ApiError {
    fn from(error: AvailabilityError) -> Self {
        match error {
            AvailabilityError::Invalid(input) => input.into(),
            AvailabilityError::Slots(slots) => ApiError::bad_request(slots.code(), slots.to_string()),
            AvailabilityError::Acting(acting) => acting.into(),
            AvailabilityError::Access(access) => access.into(),
        }
    }
}

impl From<BookingError> for ApiError {
    fn from(error: BookingError) -> Self {
        match error {
            BookingError::Invalid(input) => input.into(),
            BookingError::Slots(slots) => ApiError::bad_request(slots.code(), slots.to_string()),
            BookingError::Acting(acting) => acting.into(),
            BookingError::InvalidLink => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_booking_link", error.to_string())
            }
            BookingError::Expired => ApiError::new(StatusCode::GONE, "booking_link_expired", error.to_string()),
            BookingError::Revoked => ApiError::new(StatusCode::GONE, "booking_link_revoked", error.to_string()),
            BookingError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", error.to_string()),
            BookingError::OutsideWindow { .. } => ApiError::bad_request("outside_booking_window", error.to_string()),
            BookingError::Availability(availability) => availability.into(),
            BookingError::Store(StoreError::Unavailable(_)) | BookingError::Secrets(_) => {
                ApiError::unavailable("dependency unavailable", &error)
            }
            BookingError::Store(_) => ApiError::internal("request failed", &error),
        }
    }
}

impl From<MeetingError> for ApiError {
    fn from(error: MeetingError) -> Self {
        match error {
            MeetingError::Invalid(input) => input.into(),
            MeetingError::Acting(acting) => acting.into(),
            MeetingError::OtherHost => ApiError::conflict(
                "meeting_exists",
                "the session already has a meeting with another host; send reset: true to replace it",
            ),
            MeetingError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such meeting"),
            MeetingError::HostNotUsable(provider, state) => {
                let name = match provider {
                    Provider::Google => "Google",
                    Provider::Zoom => "Zoom",
                    Provider::Gmail => "Gmail",
                };
                let api = match state {
                    NotUsable::NotConnected => ApiError::conflict(
                        "not_connected",
                        format!("the host has not connected a {name} account; attach an existing_url instead"),
                    ),
                    NotUsable::NeedsReconnect => ApiError::conflict(
                        "needs_reconnect",
                        format!("the host's {name} connection has expired or was revoked; the host must connect again"),
                    ),
                };
                ApiError { provider: Some(provider.as_str()), ..api }
            }
            MeetingError::CreationFailed => {
                ApiError::new(StatusCode::BAD_GATEWAY, "meet_creation_failed", "Google could not create the Meet")
            }
            MeetingError::ProviderNotOffered => {
                ApiError::bad_request("unknown_provider", "this deployment does not make meetings with that provider")
            }
            MeetingError::NoStartLink => ApiError::conflict(
                "no_start_link",
                "this meeting has no start link: the host joins with the meeting URL like everyone else",
            ),
            MeetingError::HostConnectionEnded => ApiError::conflict(
                "host_connection_ended",
                "the Zoom connection that made this meeting has ended; the host must connect Zoom again, and the \
                 meeting may need to be created anew",
            ),
            MeetingError::ZoomRateLimited { retry_after_seconds, daily } => ApiError {
                retry_after_seconds: Some(retry_after_seconds.max(1)),
                provider: Some(Provider::Zoom.as_str()),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "zoom_rate_limited",
                    if daily {
                        "the host has reached Zoom's daily limit of meeting creates and updates; try again after \
                         Retry-After seconds"
                    } else {
                        "Zoom is rate limiting this app; try again after Retry-After seconds"
                    },
                )
            },
            MeetingError::Zoom(ZoomApiError::Unavailable(ref cause)) => {
                ApiError::unavailable("zoom unavailable", &**cause as &(dyn std::error::Error + 'static))
            }
            MeetingError::Zoom(ref zoom) => {
                tracing::warn!(error = %ErrorChain(zoom), "zoom refused the request");
                ApiError::new(StatusCode::BAD_GATEWAY, "zoom_error", "Zoom refused the request")
            }
            MeetingError::Access(access) => access.into(),
        }
    }
}

impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Invalid(input) => input.into(),
            SyncError::Transient(ref cause) => match cause.downcast_ref::<AccessError>() {
                Some(AccessError::OverBudget { retry_after }) => rate_limited(*retry_after),
                _ => ApiError::unavailable("appointment sync failed", &error),
            },
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match &error {
            WebhookError::UnknownProvider(unknown) => (*unknown).into(),
            WebhookError::InvalidSignature(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", error.to_string())
            }
            WebhookError::Replayed => ApiError::new(StatusCode::UNAUTHORIZED, "replayed", error.to_string()),
            WebhookError::InvalidBody(_) => ApiError::bad_request("invalid_request", error.to_string()),
            WebhookError::Secrets(_) | WebhookError::Store(StoreError::Unavailable(_)) => {
                ApiError::unavailable("dependency unavailable", &error)
            }
            WebhookError::Store(_) => ApiError::internal("request failed", &error),
        }
    }
}

impl From<MailError> for ApiError {
    fn from(error: MailError) -> Self {
        let gmail = |api: ApiError| ApiError { provider: Some(Provider::Gmail.as_str()), ..api };
        match error {
            MailError::Invalid(input) => input.into(),
            MailError::Acting(acting) => acting.into(),
            MailError::UnknownProvider(unknown) => unknown.into(),
            MailError::NotUsable(NotUsable::NotConnected) => {
                gmail(ApiError::conflict("not_connected", "the user has not connected Gmail"))
            }
            MailError::NotUsable(NotUsable::NeedsReconnect) => gmail(ApiError::conflict(
                "needs_reconnect",
                "the user's Gmail connection has expired or was revoked; the user must connect Gmail again",
            )),
            MailError::InsufficientScope => gmail(ApiError::conflict(
                "insufficient_scope",
                "the user's Gmail connection does not allow sending; the user must connect Gmail again and allow it",
            )),
            MailError::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; use a new key for a new message",
            ),
            MailError::InProgress => ApiError {
                retry_after_seconds: Some(2),
                ..ApiError::conflict("send_in_progress", "a send with this Idempotency-Key is still in progress")
            },
            MailError::OutcomeUnknown => ApiError::conflict(
                "send_outcome_unknown",
                "Gmail's answer to this send was lost: the message may have been sent; check the recipient's \
                 mailbox before sending it again under a new key",
            ),
            MailError::RateLimited { retry_after, daily } => gmail(ApiError {
                retry_after_seconds: Some(retry_after.as_secs().max(1)),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "gmail_rate_limited",
                    if daily {
                        "the user has reached Gmail's daily sending limit; try again after Retry-After seconds"
                    } else {
                        "Gmail is rate limiting this user; try again after Retry-After seconds"
                    },
                )
            }),
            MailError::Rejected => {
                gmail(ApiError::new(StatusCode::BAD_GATEWAY, "gmail_rejected", "Gmail refused the message"))
            }
            MailError::Unavailable(ref cause) => {
                gmail(ApiError::unavailable("gmail unavailable", &**cause as &(dyn std::error::Error + 'static)))
            }
            MailError::Store(StoreError::Unavailable(_)) => ApiError::unavailable("dependency unavailable", &error),
            MailError::Store(_) => ApiError::internal("request failed", &error),
            MailError::Access(access) => gmail(access.into()),
        }
    }
}
