//! calbridge's own CloudWatch metrics, written as Embedded Metric Format (EMF) lines on stdout,
//! which CloudWatch Logs turns into metrics with no API call and no IAM permission.
//!
//! Contract:
//! 1. Code records through the typed functions below ([`google_call`], [`token_refresh`],
//!    [`needs_reconnect`], [`availability`], [`meeting_created`], [`sync_outcome`],
//!    [`webhook_verification_failed`], [`deadline_exceeded`]), never through `metrics::counter!` directly, so every
//!    metric name and dimension is in this file and nowhere else.
//! 2. Dimensions are low-cardinality only: every dimension key is one of [`ALLOWED_DIMENSIONS`]
//!    and every value comes from a closed set (an enum, a [`Provider`]), never a tenant, user,
//!    session, appointment or calendar id, which would make one CloudWatch metric per person
//!    (and bill for each). The tests enforce it; ids belong in logs, not in dimensions.
//! 3. Recording is a no-op until [`install`] has put the exporter (`metrics_cloudwatch_embedded`)
//!    behind the `metrics` facade: [`runtime`](crate::runtime) installs it in Lambda and
//!    [`flush`]es after every invocation, so each invocation's metrics reach the log before
//!    Lambda may freeze the container. Tests, benchmarks and the local stack record into the void
//!    unless they install it (the local stack does not: metrics are a deployment concern).
//! 4. The namespace is `METRICS_NAMESPACE` (default [`DEFAULT_NAMESPACE`]); `METRICS_NAMESPACE=off`
//!    disables metrics. These two variables are read here rather than in [`config`](crate::config)
//!    because metrics must work before, and whether or not, the rest of the configuration parses.
//!
//! The exporter is used without its `lambda` feature: that feature links `lambda_http` and
//! `lambda_runtime` with their default features (every event type) into each binary; one call
//! to [`flush`] per invocation is all it would do for us.

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_cloudwatch_embedded::Collector;

use crate::domain::Provider;

/// The variable naming the CloudWatch namespace (`off` disables metrics).
pub const NAMESPACE_VARIABLE: &str = "METRICS_NAMESPACE";
/// The namespace when [`NAMESPACE_VARIABLE`] is unset.
pub const DEFAULT_NAMESPACE: &str = "calbridge";

/// Metric names, as the template's alarms and dashboard spell them.
pub mod names {
    /// Count of HTTP calls to Google, by `api` and `status_class`.
    pub const GOOGLE_CALLS: &str = "GoogleCalls";
    /// Count of access-token refreshes, by `provider` and `outcome`.
    pub const TOKEN_REFRESHES: &str = "TokenRefreshes";
    /// Count of connections that became `needs_reconnect`, by `provider` and `reason`.
    pub const NEEDS_RECONNECT: &str = "NeedsReconnect";
    /// Milliseconds one availability request took (no dimensions).
    pub const AVAILABILITY_LATENCY: &str = "AvailabilityLatency";
    /// FreeBusy calls one availability request made (no dimensions).
    pub const AVAILABILITY_GOOGLE_CALLS: &str = "AvailabilityGoogleCalls";
    /// Count of meetings made, by `provider` (`google_meet`, `zoom`).
    pub const MEETINGS_CREATED: &str = "MeetingsCreated";
    /// Count of appointment changes handled, by `outcome`.
    pub const SYNC_OUTCOMES: &str = "SyncOutcomes";
    /// Count of webhook calls whose signature or token did not verify, by `provider`.
    pub const WEBHOOK_VERIFICATIONS_FAILED: &str = "WebhookVerificationsFailed";
    /// Count of requests abandoned at their deadline and answered 503 (no dimensions).
    pub const DEADLINES_EXCEEDED: &str = "DeadlinesExceeded";

    /// Every name above (the template's dashboard shows each one).
    pub const ALL: &[&str] = &[
        GOOGLE_CALLS,
        TOKEN_REFRESHES,
        NEEDS_RECONNECT,
        AVAILABILITY_LATENCY,
        AVAILABILITY_GOOGLE_CALLS,
        MEETINGS_CREATED,
        SYNC_OUTCOMES,
        WEBHOOK_VERIFICATIONS_FAILED,
        DEADLINES_EXCEEDED,
    ];
}

/// The only dimension keys any calbridge metric may carry.
pub const ALLOWED_DIMENSIONS: &[&str] = &["function", "provider", "api", "status_class", "outcome", "reason"];

/// The Google API a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoogleApi {
    FreeBusy,
    CalendarList,
    EventsInsert,
    EventsGet,
    EventsPatch,
    EventsDelete,
    /// The token endpoint, exchanging an authorization code.
    TokenExchange,
    /// The token endpoint, refreshing an access token.
    TokenRefresh,
    Revoke,
    Userinfo,
    /// Google's signing keys (JWKS), for ID tokens.
    Certs,
    /// Gmail's `users.messages.send`.
    GmailSend,
}

impl GoogleApi {
    pub const ALL: [GoogleApi; 12] = [
        GoogleApi::FreeBusy,
        GoogleApi::CalendarList,
        GoogleApi::EventsInsert,
        GoogleApi::EventsGet,
        GoogleApi::EventsPatch,
        GoogleApi::EventsDelete,
        GoogleApi::TokenExchange,
        GoogleApi::TokenRefresh,
        GoogleApi::Revoke,
        GoogleApi::Userinfo,
        GoogleApi::Certs,
        GoogleApi::GmailSend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GoogleApi::FreeBusy => "freebusy",
            GoogleApi::CalendarList => "calendar_list",
            GoogleApi::EventsInsert => "events_insert",
            GoogleApi::EventsGet => "events_get",
            GoogleApi::EventsPatch => "events_patch",
            GoogleApi::EventsDelete => "events_delete",
            GoogleApi::TokenExchange => "token_exchange",
            GoogleApi::TokenRefresh => "token_refresh",
            GoogleApi::Revoke => "revoke",
            GoogleApi::Userinfo => "userinfo",
            GoogleApi::Certs => "certs",
            GoogleApi::GmailSend => "gmail_send",
        }
    }
}

/// What became of one HTTP call, coarse enough to alarm on: 429 is apart from other 4xx
/// because it means quota, not a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    Redirect,
    RateLimited,
    ClientError,
    ServerError,
    /// No HTTP answer: connect, TLS or timeout failure.
    Transport,
}

impl StatusClass {
    pub const ALL: [StatusClass; 6] = [
        StatusClass::Success,
        StatusClass::Redirect,
        StatusClass::RateLimited,
        StatusClass::ClientError,
        StatusClass::ServerError,
        StatusClass::Transport,
    ];

    pub fn of(status: u16) -> Self {
        match status {
            429 => StatusClass::RateLimited,
            200..=299 => StatusClass::Success,
            300..=399 => StatusClass::Redirect,
            400..=499 => StatusClass::ClientError,
            // 1xx never reaches a client as a final answer; anything odd counts as the server's.
            _ => StatusClass::ServerError,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::Success => "2xx",
            StatusClass::Redirect => "3xx",
            StatusClass::RateLimited => "429",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
            StatusClass::Transport => "transport",
        }
    }
}

/// How an access-token refresh ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    Refreshed,
    /// The provider refused the refresh token (`invalid_grant`): the connection needs reconnect.
    InvalidGrant,
    /// Refused, but another caller had already stored newer tokens, which are used instead.
    Superseded,
    /// The provider or the network failed; the connection is unchanged and may be retried.
    Failed,
}

impl RefreshOutcome {
    pub const ALL: [RefreshOutcome; 4] =
        [RefreshOutcome::Refreshed, RefreshOutcome::InvalidGrant, RefreshOutcome::Superseded, RefreshOutcome::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            RefreshOutcome::Refreshed => "refreshed",
            RefreshOutcome::InvalidGrant => "invalid_grant",
            RefreshOutcome::Superseded => "superseded",
            RefreshOutcome::Failed => "failed",
        }
    }
}

/// Why a connection became `needs_reconnect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectReason {
    /// The provider refused the refresh token: revoked, expired, or the password changed.
    InvalidGrant,
}

impl ReconnectReason {
    pub const ALL: [ReconnectReason; 1] = [ReconnectReason::InvalidGrant];

    pub fn as_str(self) -> &'static str {
        match self {
            ReconnectReason::InvalidGrant => "invalid_grant",
        }
    }
}

/// One HTTP call to Google and the class of its answer.
/// One call to Google's `api`, by the status of its answer (`None`: no answer came, `transport`).
pub fn google_answer(api: GoogleApi, status: Option<u16>) {
    google_call(api, status.map_or(StatusClass::Transport, StatusClass::of));
}

pub fn google_call(api: GoogleApi, status: StatusClass) {
    metrics::counter!(names::GOOGLE_CALLS, "api" => api.as_str(), "status_class" => status.as_str()).increment(1);
}

/// One access-token refresh against `provider`.
pub fn token_refresh(provider: Provider, outcome: RefreshOutcome) {
    metrics::counter!(names::TOKEN_REFRESHES, "provider" => provider.as_str(), "outcome" => outcome.as_str())
        .increment(1);
}

/// One connection that has just become `needs_reconnect`.
pub fn needs_reconnect(provider: Provider, reason: ReconnectReason) {
    metrics::counter!(names::NEEDS_RECONNECT, "provider" => provider.as_str(), "reason" => reason.as_str())
        .increment(1);
}

/// One availability request: how long it took and how many FreeBusy calls it made.
pub fn availability(latency: Duration, google_calls: u32) {
    metrics::describe_histogram!(names::AVAILABILITY_LATENCY, metrics::Unit::Milliseconds, "availability latency");
    metrics::describe_histogram!(names::AVAILABILITY_GOOGLE_CALLS, metrics::Unit::Count, "FreeBusy calls");
    // Whole microseconds, so a value in milliseconds is exact to three decimals.
    metrics::histogram!(names::AVAILABILITY_LATENCY).record(latency.as_micros() as f64 / 1000.0);
    metrics::histogram!(names::AVAILABILITY_GOOGLE_CALLS).record(f64::from(google_calls));
}

/// One meeting made with `provider` (a [`MeetingProvider`](crate::domain::MeetingProvider)
/// name). Anything else is counted as `other`, so a stored value can never widen the dimension.
pub fn meeting_created(provider: &str) {
    let provider = match provider {
        "google_meet" => "google_meet",
        "zoom" => "zoom",
        _ => "other",
    };
    metrics::counter!(names::MEETINGS_CREATED, "provider" => provider).increment(1);
}

/// One appointment change handled by sync, with its outcome's snake_case name (`synced`,
/// `deleted`, `skipped_not_connected`, `failed_needs_reconnect`, `failed_rejected`,
/// `ignored_stale`, and `retried` for a transient failure or `invalid` for a refused input).
/// `'static` on purpose: an outcome is a name written in code, never a value read from a request.
pub fn sync_outcome(outcome: &'static str) {
    metrics::counter!(names::SYNC_OUTCOMES, "outcome" => outcome).increment(1);
}

/// One webhook call from `provider` whose signature or verification token was wrong.
pub fn webhook_verification_failed(provider: Provider) {
    metrics::counter!(names::WEBHOOK_VERIFICATIONS_FAILED, "provider" => provider.as_str()).increment(1);
}

/// One HTTP request abandoned at its deadline (answered `503 deadline_exceeded`).
pub fn deadline_exceeded() {
    metrics::counter!(names::DEADLINES_EXCEEDED).increment(1);
}

static COLLECTOR: OnceLock<Option<&'static Collector>> = OnceLock::new();

/// The namespace metrics go to, or `None` when disabled, from `lookup` (the environment).
pub fn namespace_from(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    match lookup(NAMESPACE_VARIABLE).map(|v| v.trim().to_owned()) {
        None => Some(DEFAULT_NAMESPACE.to_owned()),
        Some(v) if v.is_empty() => Some(DEFAULT_NAMESPACE.to_owned()),
        Some(v) if v.eq_ignore_ascii_case("off") => None,
        Some(v) => Some(v),
    }
}

/// Installs the EMF exporter behind the `metrics` facade for this process, with the namespace
/// from the environment and `function` (the Lambda function's name) as a property on every
/// line: a property, not a dimension, so alarms need not name each function's generated name.
/// Only the first call in a process has an effect.
pub fn install() -> bool {
    install_with(namespace_from(|name| std::env::var(name).ok()), std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok())
}

/// [`install`] with the namespace (`None`: disabled) and function name given.
pub fn install_with(namespace: Option<String>, function: Option<String>) -> bool {
    COLLECTOR
        .get_or_init(|| {
            let namespace = namespace?;
            match metrics_cloudwatch_embedded::Builder::new().cloudwatch_namespace(namespace).init() {
                Ok(collector) => {
                    if let Some(function) = function {
                        collector.set_property("function", function);
                    }
                    Some(collector)
                }
                Err(error) => {
                    tracing::warn!(error = %error, "metrics disabled: another recorder is installed");
                    None
                }
            }
        })
        .is_some()
}

/// Writes every metric recorded since the last flush, one EMF JSON line per dimension set, to
/// `writer`. Nothing when metrics are not installed or nothing was recorded.
pub fn flush_to(writer: impl std::io::Write) -> std::io::Result<()> {
    match COLLECTOR.get().copied().flatten() {
        Some(collector) => collector.flush(writer),
        None => Ok(()),
    }
}

/// [`flush_to`] stdout, where Lambda hands EMF lines to CloudWatch. A failure is logged, never
/// returned: losing metrics must not fail an invocation.
pub fn flush() {
    let mut out = std::io::stdout().lock();
    if let Err(error) = flush_to(&mut out).and_then(|()| out.flush()) {
        tracing::warn!(error = %error, "could not write metrics");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

    use super::*;

    /// Every key (name and labels) recorded on this thread.
    #[derive(Default, Clone)]
    struct Keys(Arc<Mutex<Vec<Key>>>);

    impl Recorder for Keys {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            self.0.lock().unwrap().push(key.clone());
            Counter::noop()
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            self.0.lock().unwrap().push(key.clone());
            Gauge::noop()
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            self.0.lock().unwrap().push(key.clone());
            Histogram::noop()
        }
    }

    /// Calls every recording function with every value its arguments can take.
    fn record_everything() {
        for api in GoogleApi::ALL {
            for status in StatusClass::ALL {
                google_call(api, status);
            }
        }
        for provider in [Provider::Google, Provider::Zoom] {
            for outcome in RefreshOutcome::ALL {
                token_refresh(provider, outcome);
            }
            for reason in ReconnectReason::ALL {
                needs_reconnect(provider, reason);
            }
            webhook_verification_failed(provider);
        }
        availability(Duration::from_millis(12), 3);
        for provider in ["google_meet", "zoom", "tenant-1/user-2"] {
            meeting_created(provider);
        }
        sync_outcome("synced");
        deadline_exceeded();
    }

    #[test]
    fn every_metric_has_allowed_dimensions_with_closed_values() {
        let keys = Keys::default();
        metrics::with_local_recorder(&keys, record_everything);
        let keys = keys.0.lock().unwrap().clone();
        let names: BTreeSet<&str> = keys.iter().map(|k| k.name()).collect();
        assert_eq!(names, names::ALL.iter().copied().collect::<BTreeSet<_>>(), "every metric is recorded");
        for key in &keys {
            for label in key.labels() {
                assert!(ALLOWED_DIMENSIONS.contains(&label.key()), "{} has dimension {}", key.name(), label.key());
                // Values are short snake_case names, never ids (which carry digits, dashes, @ or /).
                assert!(
                    label.value().len() <= 32
                        && label.value().chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
                        && !label.value().chars().next().is_some_and(|c| c.is_ascii_digit())
                        || label.key() == "status_class",
                    "{}: {}={}",
                    key.name(),
                    label.key(),
                    label.value()
                );
            }
        }
        let meeting_providers: BTreeSet<&str> = keys
            .iter()
            .filter(|k| k.name() == names::MEETINGS_CREATED)
            .flat_map(|k| k.labels().map(|l| l.value()))
            .collect();
        assert_eq!(meeting_providers, BTreeSet::from(["google_meet", "zoom", "other"]));
    }

    #[test]
    fn status_classes_keep_quota_apart_from_other_refusals() {
        let cases = [
            (200, "2xx"),
            (204, "2xx"),
            (302, "3xx"),
            (400, "4xx"),
            (401, "4xx"),
            (403, "4xx"),
            (429, "429"),
            (500, "5xx"),
            (503, "5xx"),
            (100, "5xx"),
        ];
        for (status, class) in cases {
            assert_eq!(StatusClass::of(status).as_str(), class, "{status}");
        }
    }

    #[test]
    fn the_namespace_defaults_and_can_be_switched_off() {
        let env = |value: Option<&'static str>| move |_: &str| value.map(str::to_owned);
        assert_eq!(namespace_from(env(None)).as_deref(), Some("calbridge"));
        assert_eq!(namespace_from(env(Some(" "))).as_deref(), Some("calbridge"));
        assert_eq!(namespace_from(env(Some("calbridge-prod"))).as_deref(), Some("calbridge-prod"));
        assert_eq!(namespace_from(env(Some("OFF"))), None);
    }
}
