//! Injected failures, and the names every endpoint is counted and targeted by.
//!
//! Contract: a test queues a [`Fault`] through `POST /_emulator/faults`; the next
//! request(s) to a matching [`Endpoint`] get it instead of, or on top of, the
//! normal answer. Faults are used up in the order queued, one per request,
//! `times` requests each. Every request is counted under its endpoint name
//! whether or not a fault answers it.
//!
//! Kinds: `respond` (a status and body in the endpoint's dialect), `timeout`
//! (answer normally, late), `drop` (close the connection, no answer, nothing
//! done) and `apply_then_drop` (do the work, then close the connection: the
//! lost-response case; on `token_refresh` the refresh token has rotated and the
//! client never learns the new one).

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::ConnectionControl;
use crate::state::Emulator;
use crate::zoom_errors::{ApiError, OAuthError};

/// Every endpoint the emulator serves outside `/_emulator`, by the name tests use
/// for faults and call counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Authorize,
    AuthorizeDecision,
    /// Every `POST /oauth/token`, whatever its grant type.
    Token,
    /// `POST /oauth/token` with `grant_type=refresh_token` (counted under `token` too).
    TokenRefresh,
    Revoke,
    UsersMe,
    MeetingsCreate,
    /// `GET /users/{userId}/meetings`.
    MeetingsList,
    MeetingsGet,
    MeetingsPatch,
    MeetingsDelete,
    /// `GET /s/{meetingId}?zak=...`: a host opening a `start_url`.
    StartMeeting,
}

/// How an endpoint words a refusal when a fault gives only a status.
enum Dialect {
    Html,
    OAuth,
    Api,
}

impl Endpoint {
    pub const ALL: [Endpoint; 12] = [
        Endpoint::Authorize,
        Endpoint::AuthorizeDecision,
        Endpoint::Token,
        Endpoint::TokenRefresh,
        Endpoint::Revoke,
        Endpoint::UsersMe,
        Endpoint::MeetingsCreate,
        Endpoint::MeetingsList,
        Endpoint::MeetingsGet,
        Endpoint::MeetingsPatch,
        Endpoint::MeetingsDelete,
        Endpoint::StartMeeting,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Authorize => "authorize",
            Endpoint::AuthorizeDecision => "authorize_decision",
            Endpoint::Token => "token",
            Endpoint::TokenRefresh => "token_refresh",
            Endpoint::Revoke => "revoke",
            Endpoint::UsersMe => "users_me",
            Endpoint::MeetingsCreate => "meetings_create",
            Endpoint::MeetingsList => "meetings_list",
            Endpoint::MeetingsGet => "meetings_get",
            Endpoint::MeetingsPatch => "meetings_patch",
            Endpoint::MeetingsDelete => "meetings_delete",
            Endpoint::StartMeeting => "start_meeting",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Endpoint::ALL.into_iter().find(|endpoint| endpoint.name() == name)
    }

    fn dialect(self) -> Dialect {
        match self {
            Endpoint::Authorize | Endpoint::AuthorizeDecision | Endpoint::StartMeeting => Dialect::Html,
            Endpoint::Token | Endpoint::TokenRefresh | Endpoint::Revoke => Dialect::OAuth,
            _ => Dialect::Api,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Respond,
    Timeout,
    Drop,
    ApplyThenDrop,
}

impl FaultKind {
    const ALL: [FaultKind; 4] = [FaultKind::Respond, FaultKind::Timeout, FaultKind::Drop, FaultKind::ApplyThenDrop];

    fn name(self) -> &'static str {
        match self {
            FaultKind::Respond => "respond",
            FaultKind::Timeout => "timeout",
            FaultKind::Drop => "drop",
            FaultKind::ApplyThenDrop => "apply_then_drop",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        FaultKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// A fault as a test writes it in `POST /_emulator/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultSpec {
    endpoint: String,
    #[serde(default)]
    times: Option<u32>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    retry_after: Option<RetryAfter>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    kind: Option<String>,
}

/// A fault's `Retry-After`: seconds, or a time as Zoom sends for its daily limits
/// (`"2026-12-03T00:00:00Z"`), sent as given.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum RetryAfter {
    Seconds(u64),
    At(String),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FaultSpecError {
    #[error("unknown endpoint {0:?}; expected \"*\" or one of: {names}", names = endpoint_names())]
    UnknownEndpoint(String),
    #[error("unknown kind {0:?}; expected respond, timeout, drop or apply_then_drop")]
    UnknownKind(String),
    #[error("status {0} is not an HTTP status code")]
    InvalidStatus(u16),
    #[error("times must be at least 1")]
    ZeroTimes,
}

fn endpoint_names() -> String {
    Endpoint::ALL.iter().map(|endpoint| endpoint.name()).collect::<Vec<_>>().join(", ")
}

/// A queued fault.
#[derive(Clone, Debug)]
pub(crate) struct Fault {
    /// `None` is `"*"`: any endpoint.
    target: Option<Endpoint>,
    remaining: u32,
    status: Option<StatusCode>,
    body: Option<Value>,
    retry_after: Option<RetryAfter>,
    delay: Option<Duration>,
    kind: FaultKind,
}

/// How long a `timeout` fault stalls when the test gives no `delay_ms`: longer
/// than any sane client timeout.
const DEFAULT_TIMEOUT_STALL: Duration = Duration::from_secs(30);

impl TryFrom<FaultSpec> for Fault {
    type Error = FaultSpecError;

    fn try_from(spec: FaultSpec) -> Result<Self, Self::Error> {
        let target = match spec.endpoint.as_str() {
            "*" => None,
            name => Some(Endpoint::from_name(name).ok_or_else(|| FaultSpecError::UnknownEndpoint(name.to_owned()))?),
        };
        let kind = match spec.kind.as_deref() {
            None => FaultKind::Respond,
            Some(name) => FaultKind::from_name(name).ok_or_else(|| FaultSpecError::UnknownKind(name.to_owned()))?,
        };
        let status = spec
            .status
            .map(|code| {
                StatusCode::from_u16(code)
                    .ok()
                    .filter(|status| !status.is_informational())
                    .ok_or(FaultSpecError::InvalidStatus(code))
            })
            .transpose()?;
        let remaining = spec.times.unwrap_or(1);
        if remaining == 0 {
            return Err(FaultSpecError::ZeroTimes);
        }
        Ok(Fault {
            target,
            remaining,
            status,
            body: spec.body,
            retry_after: spec.retry_after,
            delay: spec.delay_ms.map(Duration::from_millis),
            kind,
        })
    }
}

impl Fault {
    fn matches(&self, endpoints: &[Endpoint]) -> bool {
        self.target.is_none_or(|target| endpoints.contains(&target))
    }

    fn describe(&self) -> Value {
        json!({
            "endpoint": self.target.map_or("*", Endpoint::name),
            "times": self.remaining,
            "status": self.status.map(|status| status.as_u16()),
            "body": self.body,
            "retry_after": self.retry_after,
            "delay_ms": self.delay.map(|delay| delay.as_millis() as u64),
            "kind": self.kind.name(),
        })
    }

    /// The answer a `respond` fault gives in place of the real one.
    fn response(&self, endpoint: Endpoint) -> Response {
        let status = self.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match (&self.body, endpoint.dialect()) {
            (Some(body), _) => (status, axum::Json(body.clone())).into_response(),
            (None, Dialect::Api) => ApiError::for_status(status).into_response(),
            (None, Dialect::OAuth) => OAuthError::for_status(status).into_response(),
            (None, Dialect::Html) => (
                status,
                Html(format!(
                    "<!doctype html><title>Error {code}</title><p>Error {code} (injected by the emulator)</p>",
                    code = status.as_u16()
                )),
            )
                .into_response(),
        };
        *response.status_mut() = status;
        match &self.retry_after {
            Some(RetryAfter::Seconds(seconds)) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            Some(RetryAfter::At(at)) => {
                if let Ok(value) = HeaderValue::from_str(at) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            None => {}
        }
        response
    }
}

/// Faults waiting to fire, oldest first.
#[derive(Default)]
pub(crate) struct FaultQueue {
    faults: Vec<Fault>,
}

impl FaultQueue {
    pub fn push(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    pub fn clear(&mut self) {
        self.faults.clear();
    }

    pub fn describe(&self) -> Vec<Value> {
        self.faults.iter().map(Fault::describe).collect()
    }

    /// Uses up one firing of the first fault matching `endpoints`.
    pub fn take(&mut self, endpoints: &[Endpoint]) -> Option<Fault> {
        let index = self.faults.iter().position(|fault| fault.matches(endpoints))?;
        let fault = &mut self.faults[index];
        fault.remaining -= 1;
        let fired = fault.clone();
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(fired)
    }
}

/// What a handler must do with its answer once it has done its work.
#[must_use]
pub(crate) enum AfterWork {
    Answer,
    /// The work is done and stays done, but the client never hears about it.
    CloseWithoutAnswer {
        delay: Option<Duration>,
    },
}

impl AfterWork {
    pub async fn deliver(self, connection: &ConnectionControl, response: Response) -> Response {
        match self {
            AfterWork::Answer => response,
            AfterWork::CloseWithoutAnswer { delay } => {
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
                connection.close_without_response().await
            }
        }
    }
}

/// Counts the request under each of `endpoints` and applies the first matching
/// fault. `Err` carries the response to send instead of doing the work.
pub(crate) async fn intercept(
    emulator: &Emulator,
    connection: &ConnectionControl,
    endpoints: &[Endpoint],
) -> Result<AfterWork, Response> {
    let fault = {
        let mut store = emulator.store();
        for endpoint in endpoints {
            store.count_call(*endpoint);
        }
        store.faults.take(endpoints)
    };
    let Some(fault) = fault else {
        return Ok(AfterWork::Answer);
    };
    let endpoint = endpoints[0];
    tracing::info!(endpoint = endpoint.name(), kind = fault.kind.name(), "injecting fault");
    match fault.kind {
        FaultKind::Respond => {
            if let Some(delay) = fault.delay {
                tokio::time::sleep(delay).await;
            }
            Err(fault.response(endpoint))
        }
        FaultKind::Timeout => {
            tokio::time::sleep(fault.delay.unwrap_or(DEFAULT_TIMEOUT_STALL)).await;
            Ok(AfterWork::Answer)
        }
        FaultKind::Drop => {
            if let Some(delay) = fault.delay {
                tokio::time::sleep(delay).await;
            }
            Err(connection.close_without_response().await)
        }
        FaultKind::ApplyThenDrop => Ok(AfterWork::CloseWithoutAnswer { delay: fault.delay }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(spec: Value) -> Fault {
        Fault::try_from(serde_json::from_value::<FaultSpec>(spec).unwrap()).unwrap()
    }

    #[test]
    fn a_fault_fires_its_number_of_times_then_is_gone() {
        let mut queue = FaultQueue::default();
        queue.push(fault(json!({"endpoint": "token", "status": 503, "times": 2})));
        let token = [Endpoint::Token, Endpoint::TokenRefresh];
        assert!(queue.take(&[Endpoint::UsersMe]).is_none());
        assert!(queue.take(&token).is_some());
        assert!(queue.take(&token).is_some());
        assert!(queue.take(&token).is_none());
    }

    #[test]
    fn token_refresh_faults_leave_code_exchanges_alone() {
        let mut queue = FaultQueue::default();
        queue.push(fault(json!({"endpoint": "token_refresh", "kind": "apply_then_drop"})));
        assert!(queue.take(&[Endpoint::Token]).is_none());
        assert!(queue.take(&[Endpoint::Token, Endpoint::TokenRefresh]).is_some());
    }

    #[test]
    fn specs_that_cannot_fire_are_refused() {
        let refuse = |spec: Value| Fault::try_from(serde_json::from_value::<FaultSpec>(spec).unwrap()).unwrap_err();
        refuse(json!({"endpoint": "nope"}));
        refuse(json!({"endpoint": "token", "kind": "explode"}));
        refuse(json!({"endpoint": "token", "times": 0}));
        refuse(json!({"endpoint": "token", "status": 1000}));
    }
}
