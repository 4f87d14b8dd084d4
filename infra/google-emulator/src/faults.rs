//! Injected failures, and the names every endpoint is counted and targeted by.
//!
//! Contract: a test queues a [`Fault`] through `POST /_emulator/faults`; the next
//! request(s) to a matching [`Endpoint`] (optionally only for one calendar) get it
//! instead of, or on top of, the normal answer. Faults are used up in the order
//! queued, one per request, `times` requests each. Every request is counted under
//! its endpoint name whether or not a fault answers it.
//!
//! Kinds: `respond` (a status and body), `timeout` (answer normally, late),
//! `drop` (close the connection, no answer), `apply_then_drop` (do the work, then
//! close the connection: the lost-response case), and two that change an answer
//! instead of replacing it: `conference_failure` (the next Meet conference ends in
//! `failure`), `no_refresh_token` (the next token response that would carry a
//! refresh token does not) and `no_scope` (the next token response leaves out its
//! `scope` field, which Google documents as always present).

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::google_errors::{ApiError, OAuthError};
use crate::server::ConnectionControl;
use crate::state::Emulator;

/// Every endpoint the emulator serves outside `/_emulator`, by the name tests use
/// for faults and call counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Authorize,
    AuthorizeDecision,
    /// Every `POST /token`, whatever its grant type.
    Token,
    /// `POST /token` with `grant_type=refresh_token` (counted under `token` too).
    TokenRefresh,
    Revoke,
    Userinfo,
    Jwks,
    Discovery,
    CalendarList,
    Freebusy,
    EventsList,
    EventsInsert,
    EventsGet,
    EventsPatch,
    EventsUpdate,
    EventsDelete,
    GmailSend,
}

/// How an endpoint words a refusal when a fault gives only a status.
enum Dialect {
    Html,
    OAuth,
    Api,
}

impl Endpoint {
    pub const ALL: [Endpoint; 17] = [
        Endpoint::Authorize,
        Endpoint::AuthorizeDecision,
        Endpoint::Token,
        Endpoint::TokenRefresh,
        Endpoint::Revoke,
        Endpoint::Userinfo,
        Endpoint::Jwks,
        Endpoint::Discovery,
        Endpoint::CalendarList,
        Endpoint::Freebusy,
        Endpoint::EventsList,
        Endpoint::EventsInsert,
        Endpoint::EventsGet,
        Endpoint::EventsPatch,
        Endpoint::EventsUpdate,
        Endpoint::EventsDelete,
        Endpoint::GmailSend,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Authorize => "authorize",
            Endpoint::AuthorizeDecision => "authorize_decision",
            Endpoint::Token => "token",
            Endpoint::TokenRefresh => "token_refresh",
            Endpoint::Revoke => "revoke",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Jwks => "jwks",
            Endpoint::Discovery => "discovery",
            Endpoint::CalendarList => "calendar_list",
            Endpoint::Freebusy => "freebusy",
            Endpoint::EventsList => "events_list",
            Endpoint::EventsInsert => "events_insert",
            Endpoint::EventsGet => "events_get",
            Endpoint::EventsPatch => "events_patch",
            Endpoint::EventsUpdate => "events_update",
            Endpoint::EventsDelete => "events_delete",
            Endpoint::GmailSend => "gmail_send",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Endpoint::ALL.into_iter().find(|endpoint| endpoint.name() == name)
    }

    fn dialect(self) -> Dialect {
        match self {
            Endpoint::Authorize | Endpoint::AuthorizeDecision => Dialect::Html,
            Endpoint::Token
            | Endpoint::TokenRefresh
            | Endpoint::Revoke
            | Endpoint::Userinfo
            | Endpoint::Jwks
            | Endpoint::Discovery => Dialect::OAuth,
            _ => Dialect::Api,
        }
    }

    fn creates_conferences(self) -> bool {
        matches!(self, Endpoint::EventsInsert | Endpoint::EventsPatch | Endpoint::EventsUpdate)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Respond,
    Timeout,
    Drop,
    ApplyThenDrop,
    ConferenceFailure,
    NoRefreshToken,
    NoScope,
}

impl FaultKind {
    fn name(self) -> &'static str {
        match self {
            FaultKind::Respond => "respond",
            FaultKind::Timeout => "timeout",
            FaultKind::Drop => "drop",
            FaultKind::ApplyThenDrop => "apply_then_drop",
            FaultKind::ConferenceFailure => "conference_failure",
            FaultKind::NoRefreshToken => "no_refresh_token",
            FaultKind::NoScope => "no_scope",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            FaultKind::Respond,
            FaultKind::Timeout,
            FaultKind::Drop,
            FaultKind::ApplyThenDrop,
            FaultKind::ConferenceFailure,
            FaultKind::NoRefreshToken,
            FaultKind::NoScope,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }

    /// Kinds that replace or delay the answer to a whole request, as opposed to
    /// changing one detail of a normal answer.
    fn intercepts_requests(self) -> bool {
        matches!(self, FaultKind::Respond | FaultKind::Timeout | FaultKind::Drop | FaultKind::ApplyThenDrop)
    }
}

/// A fault as a test writes it in `POST /_emulator/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultSpec {
    endpoint: String,
    #[serde(default)]
    calendar_id: Option<String>,
    #[serde(default)]
    times: Option<u32>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    kind: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FaultSpecError {
    #[error("unknown endpoint {0:?}; expected \"*\" or one of: {names}", names = endpoint_names())]
    UnknownEndpoint(String),
    #[error(
        "unknown kind {0:?}; expected respond, timeout, drop, apply_then_drop, conference_failure, no_refresh_token or no_scope"
    )]
    UnknownKind(String),
    #[error("status {0} is not an HTTP status code")]
    InvalidStatus(u16),
    #[error("times must be at least 1")]
    ZeroTimes,
    #[error("kind {kind} cannot apply to endpoint {endpoint}")]
    KindDoesNotApply { kind: &'static str, endpoint: &'static str },
}

fn endpoint_names() -> String {
    Endpoint::ALL.iter().map(|endpoint| endpoint.name()).collect::<Vec<_>>().join(", ")
}

/// A queued fault.
#[derive(Clone, Debug)]
pub(crate) struct Fault {
    /// `None` is `"*"`: any endpoint.
    target: Option<Endpoint>,
    calendar_id: Option<String>,
    remaining: u32,
    status: Option<StatusCode>,
    body: Option<Value>,
    retry_after: Option<u64>,
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
        if let Some(endpoint) = target {
            let applies = match kind {
                FaultKind::ConferenceFailure => endpoint.creates_conferences(),
                FaultKind::NoRefreshToken | FaultKind::NoScope => {
                    matches!(endpoint, Endpoint::Token | Endpoint::TokenRefresh)
                }
                _ => true,
            };
            if !applies {
                return Err(FaultSpecError::KindDoesNotApply { kind: kind.name(), endpoint: endpoint.name() });
            }
        }
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
            calendar_id: spec.calendar_id,
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
    fn matches(&self, endpoints: &[Endpoint], calendars: &[String]) -> bool {
        let endpoint_matches = self.target.is_none_or(|target| endpoints.contains(&target));
        let calendar_matches =
            self.calendar_id.as_ref().is_none_or(|wanted| calendars.iter().any(|calendar| calendar == wanted));
        endpoint_matches && calendar_matches
    }

    /// A freeBusy fault naming a calendar but no status fails just that calendar
    /// inside an otherwise successful answer.
    fn is_per_calendar_freebusy_error(&self, endpoints: &[Endpoint]) -> bool {
        self.kind == FaultKind::Respond
            && self.status.is_none()
            && self.calendar_id.is_some()
            && endpoints.contains(&Endpoint::Freebusy)
    }

    fn describe(&self) -> Value {
        json!({
            "endpoint": self.target.map_or("*", Endpoint::name),
            "calendar_id": self.calendar_id,
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
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
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

    /// Uses up one firing of the first fault accepted by `accept`.
    fn take_first(&mut self, accept: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let index = self.faults.iter().position(accept)?;
        let fault = &mut self.faults[index];
        fault.remaining -= 1;
        let fired = fault.clone();
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(fired)
    }

    /// The fault that replaces or delays this whole request, if any.
    pub fn take_request_fault(&mut self, endpoints: &[Endpoint], calendars: &[String]) -> Option<Fault> {
        self.take_first(|fault| {
            fault.kind.intercepts_requests()
                && !fault.is_per_calendar_freebusy_error(endpoints)
                && fault.matches(endpoints, calendars)
        })
    }

    /// Whether freeBusy should report `backendError` for this one calendar
    /// (known under any of `names`).
    pub fn take_freebusy_calendar_error(&mut self, names: &[String]) -> bool {
        let endpoints = [Endpoint::Freebusy];
        self.take_first(|fault| fault.is_per_calendar_freebusy_error(&endpoints) && fault.matches(&endpoints, names))
            .is_some()
    }

    /// Whether the Meet conference being created now must fail.
    pub fn take_conference_failure(&mut self, endpoint: Endpoint, calendars: &[String]) -> bool {
        self.take_first(|fault| fault.kind == FaultKind::ConferenceFailure && fault.matches(&[endpoint], calendars))
            .is_some()
    }

    /// Whether the token response being built must leave out its refresh token.
    pub fn take_no_refresh_token(&mut self, endpoints: &[Endpoint]) -> bool {
        self.take_first(|fault| fault.kind == FaultKind::NoRefreshToken && fault.matches(endpoints, &[])).is_some()
    }

    /// Whether the token response being built must leave out its `scope` field.
    pub fn take_no_scope(&mut self, endpoints: &[Endpoint]) -> bool {
        self.take_first(|fault| fault.kind == FaultKind::NoScope && fault.matches(endpoints, &[])).is_some()
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
    calendars: &[String],
) -> Result<AfterWork, Response> {
    let fault = {
        let mut store = emulator.store();
        for endpoint in endpoints {
            store.record_call(*endpoint);
        }
        store.faults.take_request_fault(endpoints, calendars)
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
        // Never returned by take_request_fault; answering normally is the safe reading.
        FaultKind::ConferenceFailure | FaultKind::NoRefreshToken | FaultKind::NoScope => Ok(AfterWork::Answer),
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
        assert!(queue.take_request_fault(&[Endpoint::Userinfo], &[]).is_none());
        assert!(queue.take_request_fault(&token, &[]).is_some());
        assert!(queue.take_request_fault(&token, &[]).is_some());
        assert!(queue.take_request_fault(&token, &[]).is_none());
    }

    #[test]
    fn token_refresh_faults_leave_code_exchanges_alone() {
        let mut queue = FaultQueue::default();
        queue.push(fault(json!({"endpoint": "token_refresh", "status": 500})));
        assert!(queue.take_request_fault(&[Endpoint::Token], &[]).is_none());
        assert!(queue.take_request_fault(&[Endpoint::Token, Endpoint::TokenRefresh], &[]).is_some());
    }

    #[test]
    fn a_calendar_filter_needs_that_calendar() {
        let mut queue = FaultQueue::default();
        queue.push(fault(json!({"endpoint": "*", "calendar_id": "a@x", "status": 500})));
        assert!(queue.take_request_fault(&[Endpoint::Token], &[]).is_none());
        assert!(queue.take_request_fault(&[Endpoint::EventsGet], &["b@x".into()]).is_none());
        assert!(queue.take_request_fault(&[Endpoint::EventsGet], &["a@x".into()]).is_some());
    }

    #[test]
    fn a_statusless_freebusy_calendar_fault_fails_only_that_calendar() {
        let mut queue = FaultQueue::default();
        queue.push(fault(json!({"endpoint": "freebusy", "calendar_id": "a@x"})));
        assert!(queue.take_request_fault(&[Endpoint::Freebusy], &["a@x".into()]).is_none());
        assert!(queue.take_freebusy_calendar_error(&["a@x".into()]));
        assert!(!queue.take_freebusy_calendar_error(&["a@x".into()]));
    }

    #[test]
    fn specs_that_cannot_fire_are_refused() {
        let refuse = |spec: Value| Fault::try_from(serde_json::from_value::<FaultSpec>(spec).unwrap()).unwrap_err();
        refuse(json!({"endpoint": "nope"}));
        refuse(json!({"endpoint": "token", "kind": "explode"}));
        refuse(json!({"endpoint": "token", "times": 0}));
        refuse(json!({"endpoint": "userinfo", "kind": "no_refresh_token"}));
        refuse(json!({"endpoint": "freebusy", "kind": "conference_failure"}));
        refuse(json!({"endpoint": "token", "status": 1000}));
    }
}
