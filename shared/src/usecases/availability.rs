//! Busy intervals and bookable slots across one or many users of the caller's tenant.
//!
//! Who sees what ([`Principal::may_act_for`]): the app's service sees everything it asks for. A user sees
//! their own busy intervals and connection state; about anyone else a user learns slots only
//! (who is free for each slot), never busy time, connection state or calendars, and may not
//! choose calendars for anyone but themselves.
//!
//! Every user is looked up in the *caller's* tenant, so a user of another tenant is exactly
//! as unknown as one who never connected (`not_connected`), and no Google call is made for
//! either. For each readable user, Google FreeBusy is asked in as many requests as Google's
//! limits need (the adapter's [`free_busy_requests`](crate::ports::GoogleCalendar::free_busy_requests)),
//! and the answers are merged; every user's requests are reserved in their call budget before
//! the first is sent, so a request refused for budget (429) has made no FreeBusy call. The
//! default calendars are the connection's
//! [`busy_calendars`](crate::ports::ConnectionRecord::busy_calendars).
//!
//! Fail closed: a calendar FreeBusy reports with `errors` (or leaves out) is never taken as
//! free; its user is reported `calendar_error` and treated as busy throughout, so `mode: all`
//! offers no slot at all. Busy intervals are merged and sorted; event details never leave
//! Google. When slots are asked for, busy time is read over the window widened by the buffers,
//! so a meeting just outside the window still blocks the slots next to it.
//!
//! Limits (all checked before any store read or Google call, each a 400 with its own code):
//! a range of at most [`MAX_RANGE`], at most [`MAX_USERS`] users, at most
//! [`MAX_CALENDARS_PER_USER`] calendars for one user and [`MAX_CALENDARS_PER_REQUEST`] in all,
//! and the slot rules' own limits ([`SlotRules::parse`]). An answer carries at most
//! [`MAX_SLOTS`] slots; when more were offered, `next_time_min` is the start of the first one
//! left out, and the same request with `time_min` set to it returns the rest (page by page).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::StreamExt as _;
use jiff::{SignedDuration, Timestamp};
use oauth2::AccessToken;
use serde::{Deserialize, Serialize};

use super::access_tokens::{AccessError, NotUsable};
use super::calendar_session::CalendarSession;
use super::slots::{self, SlotRules, SlotsError, SlotsRequest, UserAvailability};
use crate::app::App;
use crate::domain::{ActingError, Interval, Owner, Principal, TenantId, UserId, merge};
use crate::errors::InputError;
use crate::ports::{CalendarBusy, FreeBusyRequest};

/// The longest range one request may ask about.
pub const MAX_RANGE: SignedDuration = SignedDuration::from_hours(62 * 24);
/// The most users one request may ask about.
pub const MAX_USERS: usize = 50;
/// The most calendars one user may be asked about.
pub const MAX_CALENDARS_PER_USER: usize = 250;
/// The most calendars `calendar_ids` may name over all users of one request.
pub const MAX_CALENDARS_PER_REQUEST: usize = 250;
/// The most slots one answer carries; `next_time_min` says where the rest begin.
pub const MAX_SLOTS: usize = 500;
/// Users whose calendars are read at the same time.
const CONCURRENT_USERS: usize = 8;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityRequest {
    #[serde(default)]
    pub user_ids: Option<Vec<String>>,
    pub time_min: Timestamp,
    pub time_max: Timestamp,
    #[serde(default)]
    pub calendar_ids: Option<HashMap<String, Vec<String>>>,
    #[serde(default)]
    pub slots: Option<SlotsRequest>,
}

#[derive(Debug, thiserror::Error)]
pub enum AvailabilityError {
    #[error(transparent)]
    Invalid(#[from] InputError),
    #[error(transparent)]
    Slots(#[from] SlotsError),
    /// The caller may not ask this (a user asking about colleagues' busy time or calendars).
    #[error(transparent)]
    Acting(#[from] ActingError),
    /// Reading a calendar failed in a way that is not the user's state (Google or AWS down).
    #[error(transparent)]
    Access(AccessError),
}

fn invalid(code: &'static str, message: impl Into<String>) -> AvailabilityError {
    AvailabilityError::Invalid(InputError::new(code, message))
}

/// Why a user's busy time is not in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    NotConnected,
    NeedsReconnect,
    CalendarError,
}

impl From<NotUsable> for Unavailable {
    fn from(state: NotUsable) -> Self {
        match state {
            NotUsable::NotConnected => Unavailable::NotConnected,
            NotUsable::NeedsReconnect => Unavailable::NeedsReconnect,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AvailabilityView {
    /// Busy time per user the caller may see it for.
    pub busy: BTreeMap<String, Vec<Interval>>,
    /// Why a user's busy time is missing, for the users the caller may see it for.
    pub unavailable: BTreeMap<String, Unavailable>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slots: Option<Vec<slots::Slot>>,
    /// Set when `slots` stopped at [`MAX_SLOTS`]: the start of the first slot left out. Ask
    /// again with this as `time_min` (everything else unchanged) for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_time_min: Option<Timestamp>,
}

/// A request that passed validation.
struct Query {
    /// Whose detail (busy time, connection state) is shown: those the caller may act for.
    caller: Principal,
    window: Interval,
    /// The range FreeBusy is read over (the window widened by slot buffers).
    lookup: Interval,
    users: Vec<UserId>,
    calendars: HashMap<UserId, Vec<String>>,
    rules: Option<SlotRules>,
}

fn validate(caller: &Principal, request: AvailabilityRequest) -> Result<Query, AvailabilityError> {
    let window = Interval::new(request.time_min, request.time_max)
        .map_err(|_| invalid("invalid_time_range", "time_max must be after time_min"))?;
    if window.duration() > MAX_RANGE {
        return Err(invalid("time_range_too_long", "the range may span at most 62 days"));
    }
    let requested = match (request.user_ids, caller.user()) {
        (Some(ids), _) => ids,
        (None, Some(own)) => vec![own.as_str().to_owned()],
        (None, None) => return Err(ActingError::UserRequired("user_ids").into()),
    };
    if requested.is_empty() {
        return Err(invalid("invalid_request", "user_ids must not be empty"));
    }
    let mut users: Vec<UserId> = Vec::new();
    for raw in &requested {
        let user = UserId::parse(raw).map_err(|e| invalid("invalid_request", format!("user_ids: {e}")))?;
        if !users.contains(&user) {
            users.push(user);
        }
    }
    if users.len() > MAX_USERS {
        return Err(invalid("too_many_users", format!("at most {MAX_USERS} users per request")));
    }
    if request.slots.is_none() && !users.iter().all(|user| caller.may_act_for(user)) {
        return Err(
            ActingError::Forbidden("a user may read only their own busy time; ask others' slots instead").into()
        );
    }
    let calendar_ids = request.calendar_ids.unwrap_or_default();
    let named: usize = calendar_ids.values().map(Vec::len).sum();
    if named > MAX_CALENDARS_PER_REQUEST {
        return Err(invalid(
            "too_many_calendars",
            format!("calendar_ids may name at most {MAX_CALENDARS_PER_REQUEST} calendars in all"),
        ));
    }
    let mut calendars = HashMap::new();
    for (raw_user, ids) in calendar_ids {
        let user = UserId::parse(&raw_user).map_err(|e| invalid("invalid_request", format!("calendar_ids: {e}")))?;
        if !caller.may_act_for(&user) {
            return Err(ActingError::Forbidden("calendar_ids may name only the caller's own calendars").into());
        }
        if !users.contains(&user) {
            return Err(invalid("invalid_request", format!("calendar_ids names {raw_user:?}, who is not in user_ids")));
        }
        if ids.len() > MAX_CALENDARS_PER_USER {
            return Err(invalid(
                "too_many_calendars",
                format!("calendar_ids of {raw_user:?} may list at most {MAX_CALENDARS_PER_USER} calendars"),
            ));
        }
        if ids.is_empty() || ids.iter().any(|id| id.trim().is_empty()) {
            return Err(invalid(
                "invalid_request",
                format!("calendar_ids of {raw_user:?} must list 1 to {MAX_CALENDARS_PER_USER} non-empty ids"),
            ));
        }
        let mut unique: Vec<String> = Vec::new();
        for id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        calendars.insert(user, unique);
    }
    let rules = request.slots.map(SlotRules::parse).transpose()?;
    let lookup = rules.as_ref().map_or(window, |rules| rules.busy_lookup_range(window));
    Ok(Query { caller: caller.clone(), window, lookup, users, calendars, rules })
}

/// What one user's calendars said.
enum UserBusy {
    Readable(Vec<Interval>),
    Unavailable(Unavailable),
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn availability(
    app: &App,
    caller: &Principal,
    request: AvailabilityRequest,
) -> Result<AvailabilityView, AvailabilityError> {
    let started = std::time::Instant::now();
    let query = validate(caller, request)?;
    let calls = AtomicU32::new(0);
    let view = answer(app, query, &calls).await;
    // Requests refused before any read (invalid, forbidden) are not availability answers and
    // would only flatter the latency; everything else counts, failures included.
    crate::metrics::availability(started.elapsed(), calls.load(Ordering::Relaxed));
    view
}

/// The answer to a validated query; every FreeBusy call made is counted in `calls`.
async fn answer(app: &App, query: Query, calls: &AtomicU32) -> Result<AvailabilityView, AvailabilityError> {
    let tenant = query.caller.tenant();
    // The futures are built up front (not in a stream combinator's closure) so their borrows
    // have one concrete lifetime, which keeps the whole future `Send`.
    // First every user's calls are planned and paid for, so that a user over budget (or a
    // store that is down) fails the request before any FreeBusy call is made.
    let plans: Vec<_> =
        query.users.iter().map(|user| async { (user.clone(), plan_user(app, tenant, user, &query).await) }).collect();
    let plans: Vec<(UserId, Result<Plan<'_>, AccessError>)> =
        futures_util::stream::iter(plans).buffered(CONCURRENT_USERS).collect().await;
    let mut planned = Vec::with_capacity(plans.len());
    for (user, plan) in plans {
        planned.push((user, plan.map_err(AvailabilityError::Access)?));
    }
    let reads: Vec<_> =
        planned.into_iter().map(|(user, plan)| async move { (user, read_user(app, plan, calls).await) }).collect();
    let answers: Vec<(UserId, Result<UserBusy, AccessError>)> =
        futures_util::stream::iter(reads).buffered(CONCURRENT_USERS).collect().await;

    let mut view =
        AvailabilityView { busy: BTreeMap::new(), unavailable: BTreeMap::new(), slots: None, next_time_min: None };
    let mut inputs = Vec::with_capacity(answers.len());
    for (user, answer) in answers {
        match answer.map_err(AvailabilityError::Access)? {
            UserBusy::Readable(busy) => {
                if query.caller.may_act_for(&user) {
                    view.busy.insert(user.to_string(), clip(&busy, query.window));
                }
                inputs.push(UserAvailability { user_id: user.to_string(), busy, readable: true });
            }
            UserBusy::Unavailable(reason) => {
                if query.caller.may_act_for(&user) {
                    view.unavailable.insert(user.to_string(), reason);
                }
                inputs.push(UserAvailability { user_id: user.to_string(), busy: Vec::new(), readable: false });
            }
        }
    }
    if let Some(rules) = &query.rules {
        let page = slots::compute_slots_page(rules, query.window, app.clock.now(), &inputs, MAX_SLOTS);
        view.slots = Some(page.slots);
        view.next_time_min = page.next_start;
    }
    Ok(view)
}

/// One user's FreeBusy requests, paid for in the user's call budget, or why none is made.
enum Plan<'a> {
    Read { session: Box<CalendarSession<'a>>, requests: Vec<FreeBusyRequest> },
    Unavailable(Unavailable),
}

/// Opens `user`'s session and reserves the FreeBusy calls reading the lookup range takes. A
/// user's own state (not connected, needs reconnect) becomes `Unavailable`; a spent budget, or
/// Google or AWS being down, fails the whole request.
async fn plan_user<'a>(app: &'a App, tenant: &TenantId, user: &UserId, query: &Query) -> Result<Plan<'a>, AccessError> {
    let mut session = match CalendarSession::open(app, &Owner::new(tenant.clone(), user.clone())).await {
        Ok(session) => session,
        Err(error) => {
            return match error.not_usable() {
                Some(state) => Ok(Plan::Unavailable(state.into())),
                None => Err(error),
            };
        }
    };
    let calendars = match query.calendars.get(user) {
        Some(ids) => ids.clone(),
        None => session.connection().busy_calendars(),
    };
    let requests = app.calendar.free_busy_requests(query.lookup, &calendars);
    session.reserve(u32::try_from(requests.len()).unwrap_or(u32::MAX)).await?;
    Ok(Plan::Read { session: Box::new(session), requests })
}

/// One user's merged busy time over the lookup range, or why it cannot be read. A user's own
/// state (needs reconnect, a calendar Google cannot read for them) becomes `Unavailable`;
/// Google or AWS being down fails the whole request, to be retried.
async fn read_user(app: &App, plan: Plan<'_>, calls: &AtomicU32) -> Result<UserBusy, AccessError> {
    let (mut session, requests) = match plan {
        Plan::Read { session, requests } => (session, requests),
        Plan::Unavailable(reason) => return Ok(UserBusy::Unavailable(reason)),
    };
    let mut busy = Vec::new();
    for request in &requests {
        let call = |token: AccessToken| async move {
            calls.fetch_add(1, Ordering::Relaxed);
            app.calendar.free_busy(&token, request).await
        };
        let answers = match session.call(call).await {
            Ok(answers) => answers,
            Err(AccessError::Google(error)) if !error.is_retryable() => {
                tracing::warn!(error = %crate::errors::ErrorChain(&error), "freebusy refused; user unavailable");
                return Ok(UserBusy::Unavailable(Unavailable::CalendarError));
            }
            Err(error) => {
                return match error.not_usable() {
                    Some(state) => Ok(UserBusy::Unavailable(state.into())),
                    None => Err(error),
                };
            }
        };
        for (calendar, answer) in answers {
            match answer {
                CalendarBusy::Busy(intervals) => busy.extend(intervals),
                CalendarBusy::Unreadable { reason } => {
                    tracing::warn!(calendar_reason = %reason, calendars = calendar.len(), "a calendar could not be read");
                    return Ok(UserBusy::Unavailable(Unavailable::CalendarError));
                }
            }
        }
    }
    Ok(UserBusy::Readable(merge(busy)))
}

/// The parts of merged `busy` inside `window`.
fn clip(busy: &[Interval], window: Interval) -> Vec<Interval> {
    busy.iter()
        .filter(|b| b.overlaps(&window))
        .map(|b| Interval { start: b.start.max(window.start), end: b.end.min(window.end) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn busy_is_clipped_to_the_window() {
        let window = Interval { start: at("2026-12-01T09:00:00Z"), end: at("2026-12-01T17:00:00Z") };
        let busy = [
            Interval { start: at("2026-12-01T08:00:00Z"), end: at("2026-12-01T09:30:00Z") },
            Interval { start: at("2026-12-01T12:00:00Z"), end: at("2026-12-01T13:00:00Z") },
            Interval { start: at("2026-12-01T17:00:00Z"), end: at("2026-12-01T18:00:00Z") },
        ];
        let clipped = clip(&busy, window);
        assert_eq!(clipped.len(), 2);
        assert_eq!(clipped[0].start, window.start);
    }
}
