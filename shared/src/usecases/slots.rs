//! Bookable slots: working hours in a time zone, minus everyone's busy time, as exact instants.
//!
//! Job: turn a client's slot rules ([`SlotsRequest`], parsed once into [`SlotRules`]) and the busy
//! intervals we read from Google ([`UserAvailability`]) into the list of [`Slot`]s an app may offer.
//!
//! Contract (the property test in `tests/slots_properties.rs` checks it against a brute-force
//! minute scan):
//! - **Candidates.** For every local calendar date and every working-hours rule whose `days`
//!   include that date's weekday, the local range `[date + start, date + end)` becomes a range of
//!   instants. Local times are converted with jiff's `compatible` disambiguation: a local time in
//!   a DST gap (02:30 on a spring-forward day in New York) is read with the offset in force before
//!   the gap, which lands it after the gap (03:30 EDT); an ambiguous local time in a fold (01:30 on
//!   a fall-back day) takes the earlier of its two instants. So 09:00-17:00 stays 09:00-17:00
//!   local on 23- and 25-hour days, and a rule that spans a fold covers the repeated hour twice.
//!   A rule whose converted end is not after its converted start (possible only for a rule that
//!   sits inside a gap) yields nothing. Candidate starts are `range.start + k * step` for
//!   `k = 0, 1, ...` with `start + duration <= range.end`; overlapping rules are unioned and
//!   deduplicated by start.
//! - **Offered** when the candidate `[s, s + duration)` lies inside the requested window,
//!   `s >= now + minimum_notice`, and the required users are free for the padded range
//!   `[s - buffer_before, s + duration + buffer_after)`: no busy interval of theirs and no
//!   `extra_busy` interval (the app's own bookings, binding on everyone) overlaps it. Intervals
//!   are half-open, so busy time ending exactly at the padded start does not block.
//! - **Fail closed.** A user whose calendars could not be read is never free. In [`Mode::All`] one
//!   such user means no slots at all; in [`Mode::Any`] a slot lists only the users who are free.
//!   No users means no slots.
//! - Output is sorted by start, without duplicates.
//! - **Paging.** [`compute_slots_page`] returns at most `limit` slots and, when there were
//!   more, the start of the first one left out. Because the grid is anchored at the
//!   working-hours start, not at the window start, asking again with the window starting there
//!   returns exactly the rest: pages concatenated equal [`compute_slots`] over the whole window.
//! - **Limits** (checked by [`SlotRules::parse`], before any busy time is read): step at least
//!   [`MIN_STEP_MINUTES`], at most [`MAX_WORKING_HOURS`] rules and [`MAX_EXTRA_BUSY`] entries,
//!   buffers at most [`MAX_BUFFER_MINUTES`], notice at most [`MAX_NOTICE_MINUTES`].
//!
//! Cost: each user's busy list is sorted and merged once (only the part that can touch a
//! candidate), then candidates, already in order, are checked against a forward-only cursor per
//! list, so a check is amortised O(1) and nothing is allocated per candidate except the output.
//! Time zone conversions happen twice per rule per local date, never per candidate. All
//! arithmetic is on `i128` nanoseconds, so no buffer or notice, however large, can overflow.

use std::ops::Range;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::domain::{Interval, IntervalError, merge};

const NANOS_PER_MINUTE: i128 = 60_000_000_000;
const MINUTES_PER_DAY: u16 = 24 * 60;
const MAX_DURATION_MINUTES: i64 = MINUTES_PER_DAY as i64;

/// The finest step between candidate starts: a 62-day window of 24-hour rules is then at most
/// 17,856 candidates per rule.
pub const MIN_STEP_MINUTES: i64 = 5;
/// The most working-hours rules one request may carry (four per weekday).
pub const MAX_WORKING_HOURS: usize = 28;
/// The most `extra_busy` entries one request may carry.
pub const MAX_EXTRA_BUSY: usize = 500;
/// The longest buffer before or after a slot: one day. Busy time is read over the window
/// widened by the buffers, so this also bounds how far past the window Google is asked.
pub const MAX_BUFFER_MINUTES: i64 = MINUTES_PER_DAY as i64;
/// The longest minimum notice: the longest range an availability request may span (62 days);
/// any longer notice could only ever offer nothing.
pub const MAX_NOTICE_MINUTES: i64 = 62 * MINUTES_PER_DAY as i64;

/// The `"slots"` object of an availability request, exactly as the client sent it.
///
/// Only [`SlotRules::parse`] reads it; the numeric fields are signed so that a negative value
/// reaches the parser and gets a precise error instead of a generic JSON one. It serializes
/// back to the same shape (booking links store the rules they serve this way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotsRequest {
    pub duration_minutes: i64,
    /// Defaults to `duration_minutes`: back-to-back slots.
    #[serde(default)]
    pub step_minutes: Option<i64>,
    /// IANA name, e.g. `"America/New_York"`.
    pub time_zone: String,
    pub working_hours: Vec<WorkingHoursRequest>,
    #[serde(default)]
    pub buffer_before_minutes: i64,
    #[serde(default)]
    pub buffer_after_minutes: i64,
    #[serde(default)]
    pub minimum_notice_minutes: i64,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub extra_busy: Vec<BusyRequest>,
}

/// One working-hours rule as sent: `{"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingHoursRequest {
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
}

/// One `extra_busy` entry as sent. Kept apart from [`Interval`] (whose deserializer already
/// rejects `end <= start`) so that the mistake comes back as a slots error naming the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusyRequest {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Whose freedom a slot needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Everyone must be free (a meeting with all of them).
    #[default]
    All,
    /// At least one must be free (round robin); the slot names who is.
    Any,
}

/// Why slot rules were rejected. `Display` is the client-facing message; [`SlotsError::code`]
/// is the stable machine-readable code.
#[derive(Debug, thiserror::Error)]
pub enum SlotsError {
    #[error("duration_minutes must be between 1 and {MAX_DURATION_MINUTES} (24 hours), got {0}")]
    InvalidDuration(i64),
    #[error("step_minutes must be at least {MIN_STEP_MINUTES}, got {0} (it defaults to duration_minutes)")]
    InvalidStep(i64),
    #[error("{field} must not be negative, got {value}")]
    NegativeMinutes { field: &'static str, value: i64 },
    #[error("{field} may be at most {max} minutes, got {value}")]
    MinutesTooLarge { field: &'static str, value: i64, max: i64 },
    #[error("working_hours may hold at most {MAX_WORKING_HOURS} rules, got {0}")]
    TooManyWorkingHours(usize),
    #[error("extra_busy may hold at most {MAX_EXTRA_BUSY} entries, got {0}")]
    TooManyExtraBusy(usize),
    #[error("unknown time zone {name:?}: use an IANA time zone name such as \"America/New_York\"")]
    UnknownTimeZone {
        name: String,
        #[source]
        source: jiff::Error,
    },
    #[error("working_hours must contain at least one rule")]
    NoWorkingHours,
    #[error("working_hours[{index}]: {problem}")]
    InvalidWorkingHours { index: usize, problem: WorkingHoursProblem },
    #[error("extra_busy[{index}]: {source}")]
    InvalidExtraBusy {
        index: usize,
        #[source]
        source: IntervalError,
    },
}

impl SlotsError {
    /// Stable error code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            SlotsError::InvalidDuration(_) => "invalid_duration",
            SlotsError::InvalidStep(_) => "invalid_step",
            SlotsError::NegativeMinutes { .. } | SlotsError::InvalidExtraBusy { .. } => "invalid_request",
            SlotsError::MinutesTooLarge { field: "minimum_notice_minutes", .. } => "notice_too_long",
            SlotsError::MinutesTooLarge { .. } => "buffer_too_long",
            SlotsError::TooManyWorkingHours(_) => "too_many_working_hours",
            SlotsError::TooManyExtraBusy(_) => "too_many_extra_busy",
            SlotsError::UnknownTimeZone { .. } => "unknown_time_zone",
            SlotsError::NoWorkingHours | SlotsError::InvalidWorkingHours { .. } => "invalid_working_hours",
        }
    }
}

/// What is wrong with one working-hours rule.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WorkingHoursProblem {
    #[error("days must list at least one day")]
    NoDays,
    #[error("unknown day {0:?}: use mon, tue, wed, thu, fri, sat or sun")]
    UnknownDay(String),
    #[error("start {0:?} is not a time of day: use HH:MM between 00:00 and 23:59")]
    InvalidStart(String),
    #[error("end {0:?} is not a time of day: use HH:MM between 00:00 and 23:59, or 24:00")]
    InvalidEnd(String),
    #[error("start {start} must be before end {end}")]
    StartNotBeforeEnd { start: String, end: String },
}

/// Slot rules that have been checked: building one is the only way to call [`compute_slots`].
#[derive(Debug, Clone)]
pub struct SlotRules {
    /// 1..=1440.
    duration_minutes: i64,
    /// >= MIN_STEP_MINUTES.
    step_minutes: i64,
    /// 0..=MAX_BUFFER_MINUTES.
    buffer_before_minutes: i64,
    /// 0..=MAX_BUFFER_MINUTES.
    buffer_after_minutes: i64,
    /// 0..=MAX_NOTICE_MINUTES.
    minimum_notice_minutes: i64,
    time_zone: TimeZone,
    /// 1..=MAX_WORKING_HOURS rules.
    working_hours: Vec<WorkingHours>,
    mode: Mode,
    /// At most MAX_EXTRA_BUSY; merged: sorted, disjoint, not touching.
    extra_busy: Vec<Interval>,
}

/// A parsed working-hours rule: a set of weekdays and `start < end` in minutes since local
/// midnight, `end` up to 1440 (`24:00`, the next day's midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WorkingHours {
    /// Bit `n` set = weekday with Monday-zero offset `n`.
    days: u8,
    start_minute: u16,
    end_minute: u16,
}

impl SlotRules {
    pub fn parse(raw: SlotsRequest) -> Result<SlotRules, SlotsError> {
        if !(1..=MAX_DURATION_MINUTES).contains(&raw.duration_minutes) {
            return Err(SlotsError::InvalidDuration(raw.duration_minutes));
        }
        let step_minutes = raw.step_minutes.unwrap_or(raw.duration_minutes);
        if step_minutes < MIN_STEP_MINUTES {
            return Err(SlotsError::InvalidStep(step_minutes));
        }
        for (field, value, max) in [
            ("buffer_before_minutes", raw.buffer_before_minutes, MAX_BUFFER_MINUTES),
            ("buffer_after_minutes", raw.buffer_after_minutes, MAX_BUFFER_MINUTES),
            ("minimum_notice_minutes", raw.minimum_notice_minutes, MAX_NOTICE_MINUTES),
        ] {
            if value < 0 {
                return Err(SlotsError::NegativeMinutes { field, value });
            }
            if value > max {
                return Err(SlotsError::MinutesTooLarge { field, value, max });
            }
        }
        // Counted before anything is parsed, so an oversized list costs nothing.
        if raw.working_hours.len() > MAX_WORKING_HOURS {
            return Err(SlotsError::TooManyWorkingHours(raw.working_hours.len()));
        }
        if raw.extra_busy.len() > MAX_EXTRA_BUSY {
            return Err(SlotsError::TooManyExtraBusy(raw.extra_busy.len()));
        }
        let time_zone = TimeZone::get(&raw.time_zone)
            .map_err(|source| SlotsError::UnknownTimeZone { name: raw.time_zone.clone(), source })?;
        if raw.working_hours.is_empty() {
            return Err(SlotsError::NoWorkingHours);
        }
        let working_hours = raw
            .working_hours
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                WorkingHours::parse(rule).map_err(|problem| SlotsError::InvalidWorkingHours { index, problem })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let extra_busy = raw
            .extra_busy
            .iter()
            .enumerate()
            .map(|(index, busy)| {
                Interval::new(busy.start, busy.end).map_err(|source| SlotsError::InvalidExtraBusy { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(SlotRules {
            duration_minutes: raw.duration_minutes,
            step_minutes,
            buffer_before_minutes: raw.buffer_before_minutes,
            buffer_after_minutes: raw.buffer_after_minutes,
            minimum_notice_minutes: raw.minimum_notice_minutes,
            time_zone,
            working_hours,
            mode: raw.mode,
            extra_busy: merge(extra_busy),
        })
    }

    pub fn duration(&self) -> SignedDuration {
        SignedDuration::from_mins(self.duration_minutes)
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The range whose busy times can affect slots in `window`: the window widened by the
    /// buffers (clamped to the representable range). Read Google FreeBusy over this, not over
    /// the bare window, or a meeting just outside the window would slip through the buffer.
    pub fn busy_lookup_range(&self, window: Interval) -> Interval {
        let start = clamp_to_timestamp(window.start.as_nanosecond() - minutes_to_nanos(self.buffer_before_minutes));
        let end = clamp_to_timestamp(window.end.as_nanosecond() + minutes_to_nanos(self.buffer_after_minutes));
        Interval { start, end }
    }

    /// Sorted, deduplicated candidate starts (nanoseconds) that lie on a working-hours grid,
    /// inside `window`, and not before `earliest_start`. Busy time is not looked at here.
    fn candidate_starts(&self, window: Interval, earliest_start: i128) -> Vec<i128> {
        let duration = minutes_to_nanos(self.duration_minutes);
        let step = minutes_to_nanos(self.step_minutes);
        let lower_bound = window.start.as_nanosecond().max(earliest_start);
        let window_end = window.end.as_nanosecond();

        // One spare day on each side: a rule range can sit up to a UTC-offset change away from
        // the local day it belongs to; any candidate outside the window is dropped below anyway.
        let first_date = local_date(&self.time_zone, window.start);
        let first_date = first_date.yesterday().unwrap_or(first_date);
        let last_date = local_date(&self.time_zone, window.end);
        let last_date = last_date.tomorrow().unwrap_or(last_date);

        let mut starts = Vec::new();
        let mut date = first_date;
        loop {
            let weekday_bit = 1u8 << date.weekday().to_monday_zero_offset();
            for rule in &self.working_hours {
                if rule.days & weekday_bit == 0 {
                    continue;
                }
                let Some((range_start, range_end)) = rule.instants_on(&self.time_zone, date) else {
                    continue;
                };
                let upper_bound = range_end.min(window_end);
                // Jump straight to the first grid point at or after the lower bound.
                let skipped_steps =
                    if lower_bound > range_start { (lower_bound - range_start + step - 1) / step } else { 0 };
                let mut start = range_start + skipped_steps * step;
                while start + duration <= upper_bound {
                    starts.push(start);
                    start += step;
                }
            }
            if date >= last_date {
                break;
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        starts.sort_unstable();
        starts.dedup();
        starts
    }
}

impl WorkingHours {
    fn parse(raw: &WorkingHoursRequest) -> Result<WorkingHours, WorkingHoursProblem> {
        if raw.days.is_empty() {
            return Err(WorkingHoursProblem::NoDays);
        }
        let mut days = 0u8;
        for day in &raw.days {
            days |= 1 << parse_day(day)?;
        }
        let start_minute =
            parse_clock(&raw.start, false).ok_or_else(|| WorkingHoursProblem::InvalidStart(raw.start.clone()))?;
        let end_minute = parse_clock(&raw.end, true).ok_or_else(|| WorkingHoursProblem::InvalidEnd(raw.end.clone()))?;
        if start_minute >= end_minute {
            return Err(WorkingHoursProblem::StartNotBeforeEnd { start: raw.start.clone(), end: raw.end.clone() });
        }
        Ok(WorkingHours { days, start_minute, end_minute })
    }

    /// This rule's range on `date` as instants in nanoseconds, or `None` when it has none
    /// (conversion out of range, or a range that collapses inside a DST gap). `None` can only
    /// ever remove slots, which is the safe direction.
    fn instants_on(&self, time_zone: &TimeZone, date: Date) -> Option<(i128, i128)> {
        let start = local_instant(time_zone, date, self.start_minute)?;
        let end = local_instant(time_zone, date, self.end_minute)?;
        (start < end).then_some((start.as_nanosecond(), end.as_nanosecond()))
    }
}

/// `date` at `minute_of_day` (1440 = the next midnight) in `time_zone`, DST gaps and folds
/// resolved the `compatible` way.
fn local_instant(time_zone: &TimeZone, date: Date, minute_of_day: u16) -> Option<Timestamp> {
    let (date, minute_of_day) = if minute_of_day >= MINUTES_PER_DAY {
        (date.tomorrow().ok()?, minute_of_day - MINUTES_PER_DAY)
    } else {
        (date, minute_of_day)
    };
    // Both casts are lossless: minute_of_day < 1440.
    let civil = date.at((minute_of_day / 60) as i8, (minute_of_day % 60) as i8, 0, 0);
    time_zone.to_ambiguous_timestamp(civil).compatible().ok()
}

fn local_date(time_zone: &TimeZone, instant: Timestamp) -> Date {
    time_zone.to_datetime(instant).date()
}

/// Monday-zero weekday offset of a case-insensitive three-letter day name.
fn parse_day(raw: &str) -> Result<u8, WorkingHoursProblem> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(raw))
        .map(|offset| offset as u8)
        .ok_or_else(|| WorkingHoursProblem::UnknownDay(raw.to_owned()))
}

/// Minutes since midnight of a strict `HH:MM` (two digits each), `00:00`..=`23:59`, plus
/// `24:00` when `allow_end_of_day`.
fn parse_clock(raw: &str, allow_end_of_day: bool) -> Option<u16> {
    let &[h1, h2, b':', m1, m2] = raw.as_bytes() else {
        return None;
    };
    let digit = |byte: u8| byte.is_ascii_digit().then(|| u16::from(byte - b'0'));
    let hours = digit(h1)? * 10 + digit(h2)?;
    let minutes = digit(m1)? * 10 + digit(m2)?;
    match (hours, minutes) {
        (24, 0) if allow_end_of_day => Some(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Some(hours * 60 + minutes),
        _ => None,
    }
}

fn minutes_to_nanos(minutes: i64) -> i128 {
    i128::from(minutes) * NANOS_PER_MINUTE
}

fn clamp_to_timestamp(nanos: i128) -> Timestamp {
    let clamped = nanos.clamp(Timestamp::MIN.as_nanosecond(), Timestamp::MAX.as_nanosecond());
    Timestamp::from_nanosecond(clamped).unwrap_or(if nanos < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

/// One user's busy time for the requested window, as read from Google.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAvailability {
    pub user_id: String,
    /// Any order, may overlap.
    pub busy: Vec<Interval>,
    /// False when this user's calendars could not be read for the window (not connected, needs
    /// reconnect, a FreeBusy calendar error): the user is then treated as busy throughout.
    pub readable: bool,
}

/// An offered slot: `[start, end)` and the users free for it, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub start: Timestamp,
    pub end: Timestamp,
    pub user_ids: Vec<String>,
}

/// `[start, end)` in nanoseconds since the Unix epoch; `i128` so padding never overflows.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: i128,
    end: i128,
}

/// A forward-only reader over merged (sorted, disjoint) spans, asked about padded candidate
/// ranges whose starts never decrease. Each span is stepped over at most once per computation.
struct FreeCursor<'a> {
    busy: &'a [Span],
}

impl FreeCursor<'_> {
    fn is_free(&mut self, range: Span) -> bool {
        // Spans ending at or before the range start can never block this or any later range.
        while let Some((first, rest)) = self.busy.split_first()
            && first.end <= range.start
        {
            self.busy = rest;
        }
        // Merged spans: the first one left is the only one that can start before range.end.
        self.busy.first().is_none_or(|first| first.start >= range.end)
    }
}

/// The slots to offer; see the module docs for the exact rules.
pub fn compute_slots(rules: &SlotRules, window: Interval, now: Timestamp, users: &[UserAvailability]) -> Vec<Slot> {
    compute_slots_page(rules, window, now, users, usize::MAX).slots
}

/// The first slots of [`compute_slots`], at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPage {
    pub slots: Vec<Slot>,
    /// The start of the first slot left out, if any was: ask again from here to continue.
    pub next_start: Option<Timestamp>,
}

/// The first `limit` slots [`compute_slots`] would offer, and where the next one starts.
pub fn compute_slots_page(
    rules: &SlotRules,
    window: Interval,
    now: Timestamp,
    users: &[UserAvailability],
    limit: usize,
) -> SlotPage {
    let mut page = SlotPage { slots: Vec::new(), next_start: None };
    if users.is_empty() {
        return page;
    }
    if rules.mode == Mode::All && users.iter().any(|user| !user.readable) {
        return page;
    }
    let earliest_start = now.as_nanosecond() + minutes_to_nanos(rules.minimum_notice_minutes);
    let candidates = rules.candidate_starts(window, earliest_start);
    if candidates.is_empty() {
        return page;
    }

    let duration = minutes_to_nanos(rules.duration_minutes);
    let before = minutes_to_nanos(rules.buffer_before_minutes);
    let after = minutes_to_nanos(rules.buffer_after_minutes);
    let padded = |start: i128| Span { start: start - before, end: start + duration + after };
    // The padded candidates merged into blocks (about one per working day). Busy time outside
    // every block cannot block any candidate, so it is dropped before anything is sorted: in a
    // typical week that is most of it (nights, weekends).
    let mut reachable: Vec<Span> = Vec::new();
    for &start in &candidates {
        let range = padded(start);
        match reachable.last_mut() {
            // Padded ranges all have the same length, so their ends grow with their starts.
            Some(block) if range.start <= block.end => block.end = range.end,
            _ => reachable.push(range),
        }
    }

    let extra_busy: Vec<Span> = rules.extra_busy.iter().map(|&i| to_span(i)).collect();
    let (busy, user_busy) = merged_busy_per_user(users, &reachable);

    let mut extra_cursor = FreeCursor { busy: &extra_busy };
    let mut user_cursors: Vec<Option<FreeCursor<'_>>> =
        user_busy.iter().map(|range| range.clone().map(|r| FreeCursor { busy: &busy[r] })).collect();
    let everyone: Vec<String> = users.iter().map(|user| user.user_id.clone()).collect();

    let slots = &mut page.slots;
    for start in candidates {
        let range = padded(start);
        if !extra_cursor.is_free(range) {
            continue;
        }
        let user_ids = match rules.mode {
            Mode::All => {
                // Stopping at the first busy user is fine: cursors only need monotone queries,
                // not every query.
                let all_free = user_cursors.iter_mut().all(|cursor| cursor.as_mut().is_some_and(|c| c.is_free(range)));
                if !all_free {
                    continue;
                }
                everyone.clone()
            }
            Mode::Any => {
                let free: Vec<String> = user_cursors
                    .iter_mut()
                    .zip(users)
                    .filter_map(|(cursor, user)| {
                        let free = cursor.as_mut().is_some_and(|c| c.is_free(range));
                        free.then(|| user.user_id.clone())
                    })
                    .collect();
                if free.is_empty() {
                    continue;
                }
                free
            }
        };
        // Candidates lie inside `window`, so both conversions succeed; skipping on failure
        // would only ever drop a slot.
        let (Ok(slot_start), Ok(slot_end)) =
            (Timestamp::from_nanosecond(start), Timestamp::from_nanosecond(start + duration))
        else {
            continue;
        };
        if slots.len() >= limit {
            page.next_start = Some(slot_start);
            break;
        }
        slots.push(Slot { start: slot_start, end: slot_end, user_ids });
    }
    page
}

/// Every readable user's busy spans that overlap a `reachable` block (sorted, disjoint), sorted
/// and merged, packed into one buffer; per user the range of that buffer, or `None` when the
/// user can never be free (unreadable, or a busy interval with `end < start`, which we refuse to
/// guess about).
fn merged_busy_per_user(users: &[UserAvailability], reachable: &[Span]) -> (Vec<Span>, Vec<Option<Range<usize>>>) {
    let can_block = |span: &Span| {
        let next = reachable.partition_point(|block| block.end <= span.start);
        span.start < span.end && reachable.get(next).is_some_and(|block| block.start < span.end)
    };
    let mut spans = Vec::with_capacity(users.iter().map(|user| user.busy.len()).sum());
    let mut ranges = Vec::with_capacity(users.len());
    for user in users {
        if !user.readable || user.busy.iter().any(|i| i.end < i.start) {
            ranges.push(None);
            continue;
        }
        let begin = spans.len();
        spans.extend(user.busy.iter().map(|&interval| to_span(interval)).filter(can_block));
        spans[begin..].sort_unstable_by_key(|s| s.start);
        // Merge in place: `kept` is the end of the merged prefix of this user's spans.
        let mut kept = begin;
        for read in begin..spans.len() {
            let span = spans[read];
            if kept > begin && span.start <= spans[kept - 1].end {
                spans[kept - 1].end = spans[kept - 1].end.max(span.end);
            } else {
                spans[kept] = span;
                kept += 1;
            }
        }
        spans.truncate(kept);
        ranges.push(Some(begin..kept));
    }
    (spans, ranges)
}

fn to_span(interval: Interval) -> Span {
    Span { start: interval.start.as_nanosecond(), end: interval.end.as_nanosecond() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    // ---- helpers -------------------------------------------------------------------------

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn iv(start: &str, end: &str) -> Interval {
        Interval::new(ts(start), ts(end)).unwrap()
    }

    /// Rules from JSON: the base below with `overrides` merged in (a `null` removes a field).
    fn request(overrides: Value) -> SlotsRequest {
        let mut base = json!({
            "duration_minutes": 30,
            "time_zone": "America/New_York",
            "working_hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}],
        });
        for (key, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                base.as_object_mut().unwrap().remove(key);
            } else {
                base[key] = value.clone();
            }
        }
        serde_json::from_value(base).unwrap()
    }

    fn rules(overrides: Value) -> SlotRules {
        SlotRules::parse(request(overrides)).unwrap()
    }

    fn parse_error(overrides: Value) -> SlotsError {
        SlotRules::parse(request(overrides)).unwrap_err()
    }

    fn user(id: &str, busy: Vec<Interval>) -> UserAvailability {
        UserAvailability { user_id: id.to_owned(), busy, readable: true }
    }

    fn unreadable(id: &str) -> UserAvailability {
        UserAvailability { user_id: id.to_owned(), busy: Vec::new(), readable: false }
    }

    /// A "now" long before every window used here, so notice never interferes unless asked.
    fn long_ago() -> Timestamp {
        ts("2020-01-01T00:00:00Z")
    }

    fn starts(slots: &[Slot]) -> Vec<String> {
        slots.iter().map(|slot| slot.start.to_string()).collect()
    }

    /// Local wall-clock start times of the slots, as "YYYY-MM-DD HH:MM" in `zone`.
    fn local_starts(slots: &[Slot], zone: &str) -> Vec<String> {
        let tz = TimeZone::get(zone).unwrap();
        slots.iter().map(|slot| tz.to_datetime(slot.start).strftime("%F %H:%M").to_string()).collect()
    }

    /// Monday 2026-11-02, 08:00-18:00 New York (EST): one working day with margin.
    fn monday_window() -> Interval {
        iv("2026-11-02T13:00:00Z", "2026-11-02T23:00:00Z")
    }

    // ---- parsing ---------------------------------------------------------------------------

    #[test]
    fn parses_defaults() {
        let parsed = rules(json!({}));
        assert_eq!(parsed.step_minutes, 30, "step defaults to the duration");
        assert_eq!(parsed.buffer_before_minutes, 0);
        assert_eq!(parsed.buffer_after_minutes, 0);
        assert_eq!(parsed.minimum_notice_minutes, 0);
        assert_eq!(parsed.mode(), Mode::All);
        assert!(parsed.extra_busy.is_empty());
        assert_eq!(parsed.duration(), SignedDuration::from_mins(30));
        assert_eq!(parsed.time_zone().iana_name(), Some("America/New_York"), "zone kept");
        assert_eq!(
            parsed.working_hours,
            vec![WorkingHours { days: 0b0001_1111, start_minute: 9 * 60, end_minute: 17 * 60 }]
        );
    }

    #[test]
    fn request_rejects_unknown_fields_and_modes() {
        let unknown = json!({"duration_minutes": 30, "time_zone": "UTC", "working_hours": [], "colour": "red"});
        assert!(serde_json::from_value::<SlotsRequest>(unknown).is_err());
        let bad_mode = json!({"duration_minutes": 30, "time_zone": "UTC", "working_hours": [], "mode": "some"});
        assert!(serde_json::from_value::<SlotsRequest>(bad_mode).is_err());
        let any = json!({"duration_minutes": 30, "time_zone": "UTC", "working_hours": [], "mode": "any"});
        assert_eq!(serde_json::from_value::<SlotsRequest>(any).unwrap().mode, Mode::Any);
    }

    #[test]
    fn rejects_invalid_duration() {
        for bad in [0, -30, 24 * 60 + 1] {
            let err = parse_error(json!({"duration_minutes": bad}));
            assert!(matches!(err, SlotsError::InvalidDuration(d) if d == bad));
            assert_eq!(err.code(), "invalid_duration");
            assert!(err.to_string().contains("duration_minutes"), "{err}");
        }
        assert!(SlotRules::parse(request(json!({"duration_minutes": 1440}))).is_ok());
        assert!(SlotRules::parse(request(json!({"duration_minutes": 1, "step_minutes": 5}))).is_ok());
    }

    #[test]
    fn rejects_invalid_step() {
        for bad in [0, -15, 1, MIN_STEP_MINUTES - 1] {
            let err = parse_error(json!({"step_minutes": bad}));
            assert!(matches!(err, SlotsError::InvalidStep(s) if s == bad));
            assert_eq!(err.code(), "invalid_step");
        }
        // The default step is the duration, so a short duration needs an explicit step.
        let err = parse_error(json!({"duration_minutes": 1}));
        assert!(matches!(err, SlotsError::InvalidStep(1)), "{err}");
        assert!(SlotRules::parse(request(json!({"step_minutes": MIN_STEP_MINUTES}))).is_ok());
    }

    #[test]
    fn rejects_buffers_over_a_day_and_notice_over_the_longest_range() {
        for (field, max, code) in [
            ("buffer_before_minutes", MAX_BUFFER_MINUTES, "buffer_too_long"),
            ("buffer_after_minutes", MAX_BUFFER_MINUTES, "buffer_too_long"),
            ("minimum_notice_minutes", MAX_NOTICE_MINUTES, "notice_too_long"),
        ] {
            assert!(SlotRules::parse(request(json!({ field: max }))).is_ok(), "{field} at its maximum");
            for bad in [max + 1, 52_560_000, i64::MAX] {
                let err = parse_error(json!({ field: bad }));
                assert!(matches!(err, SlotsError::MinutesTooLarge { field: f, .. } if f == field), "{err}");
                assert_eq!(err.code(), code);
                assert!(err.to_string().contains(field), "{err}");
            }
        }
    }

    #[test]
    fn rejects_too_many_rules_before_parsing_them() {
        let rule = json!({"days": ["mon"], "start": "09:00", "end": "17:00"});
        let at_most = vec![rule.clone(); MAX_WORKING_HOURS];
        assert!(SlotRules::parse(request(json!({ "working_hours": at_most }))).is_ok());
        // One more is refused even when the rules themselves are malformed: nothing is parsed.
        let mut too_many = vec![json!({"days": ["funday"], "start": "x", "end": "y"}); MAX_WORKING_HOURS];
        too_many.push(rule);
        let err = parse_error(json!({ "working_hours": too_many }));
        assert!(matches!(err, SlotsError::TooManyWorkingHours(n) if n == MAX_WORKING_HOURS + 1));
        assert_eq!(err.code(), "too_many_working_hours");

        let busy = json!({"start": "2026-11-02T09:00:00Z", "end": "2026-11-02T10:00:00Z"});
        assert!(SlotRules::parse(request(json!({ "extra_busy": vec![busy.clone(); MAX_EXTRA_BUSY] }))).is_ok());
        let err = parse_error(json!({ "extra_busy": vec![busy; MAX_EXTRA_BUSY + 1] }));
        assert!(matches!(err, SlotsError::TooManyExtraBusy(n) if n == MAX_EXTRA_BUSY + 1));
        assert_eq!(err.code(), "too_many_extra_busy");
    }

    #[test]
    fn rejects_negative_buffers_and_notice() {
        for field in ["buffer_before_minutes", "buffer_after_minutes", "minimum_notice_minutes"] {
            let err = parse_error(json!({ field: -1 }));
            assert!(matches!(err, SlotsError::NegativeMinutes { field: f, value: -1 } if f == field));
            assert_eq!(err.code(), "invalid_request");
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn rejects_unknown_time_zone() {
        let err = parse_error(json!({"time_zone": "America/Nowhere"}));
        assert!(matches!(&err, SlotsError::UnknownTimeZone { name, .. } if name == "America/Nowhere"));
        assert_eq!(err.code(), "unknown_time_zone");
        assert!(std::error::Error::source(&err).is_some(), "jiff's reason is kept for logs");
    }

    #[test]
    fn rejects_empty_working_hours() {
        let err = parse_error(json!({"working_hours": []}));
        assert!(matches!(err, SlotsError::NoWorkingHours));
        assert_eq!(err.code(), "invalid_working_hours");
    }

    #[test]
    fn rejects_malformed_working_hours() {
        let cases = [
            (json!({"days": [], "start": "09:00", "end": "17:00"}), WorkingHoursProblem::NoDays),
            (
                json!({"days": ["mon", "funday"], "start": "09:00", "end": "17:00"}),
                WorkingHoursProblem::UnknownDay("funday".into()),
            ),
            (
                json!({"days": ["monday"], "start": "09:00", "end": "17:00"}),
                WorkingHoursProblem::UnknownDay("monday".into()),
            ),
            (
                json!({"days": ["mon"], "start": "9:00", "end": "17:00"}),
                WorkingHoursProblem::InvalidStart("9:00".into()),
            ),
            (
                json!({"days": ["mon"], "start": "24:00", "end": "24:00"}),
                WorkingHoursProblem::InvalidStart("24:00".into()),
            ),
            (
                json!({"days": ["mon"], "start": "09:60", "end": "17:00"}),
                WorkingHoursProblem::InvalidStart("09:60".into()),
            ),
            (
                json!({"days": ["mon"], "start": "09:00", "end": "24:01"}),
                WorkingHoursProblem::InvalidEnd("24:01".into()),
            ),
            (
                json!({"days": ["mon"], "start": "09:00", "end": "25:00"}),
                WorkingHoursProblem::InvalidEnd("25:00".into()),
            ),
            (
                json!({"days": ["mon"], "start": "09:00", "end": "17:00:00"}),
                WorkingHoursProblem::InvalidEnd("17:00:00".into()),
            ),
            (
                json!({"days": ["mon"], "start": "09:00", "end": "+1:00"}),
                WorkingHoursProblem::InvalidEnd("+1:00".into()),
            ),
            (
                json!({"days": ["mon"], "start": "０９:00", "end": "17:00"}),
                WorkingHoursProblem::InvalidStart("０９:00".into()),
            ),
            (
                json!({"days": ["mon"], "start": "17:00", "end": "09:00"}),
                WorkingHoursProblem::StartNotBeforeEnd { start: "17:00".into(), end: "09:00".into() },
            ),
            (
                json!({"days": ["mon"], "start": "09:00", "end": "09:00"}),
                WorkingHoursProblem::StartNotBeforeEnd { start: "09:00".into(), end: "09:00".into() },
            ),
        ];
        for (rule, expected) in cases {
            let ok_rule = json!({"days": ["sun"], "start": "10:00", "end": "11:00"});
            let err = parse_error(json!({"working_hours": [ok_rule, rule]}));
            assert_eq!(err.code(), "invalid_working_hours");
            match &err {
                SlotsError::InvalidWorkingHours { index, problem } => {
                    assert_eq!(*index, 1);
                    assert_eq!(problem, &expected);
                }
                other => panic!("expected InvalidWorkingHours, got {other:?}"),
            }
            assert!(err.to_string().starts_with("working_hours[1]: "), "{err}");
        }
    }

    #[test]
    fn day_names_are_case_insensitive_and_may_repeat() {
        let parsed = rules(json!({
            "working_hours": [{"days": ["MON", "Sun", "sun"], "start": "00:00", "end": "24:00"}]
        }));
        assert_eq!(parsed.working_hours, vec![WorkingHours { days: 0b0100_0001, start_minute: 0, end_minute: 1440 }]);
    }

    #[test]
    fn rejects_inverted_extra_busy() {
        let err = parse_error(json!({"extra_busy": [
            {"start": "2026-11-02T14:00:00Z", "end": "2026-11-02T15:00:00Z"},
            {"start": "2026-11-02T15:00:00Z", "end": "2026-11-02T15:00:00Z"},
        ]}));
        assert!(matches!(err, SlotsError::InvalidExtraBusy { index: 1, .. }));
        assert_eq!(err.code(), "invalid_request");
        assert!(err.to_string().starts_with("extra_busy[1]: "), "{err}");
    }

    #[test]
    fn busy_lookup_range_widens_by_buffers() {
        let parsed = rules(json!({"buffer_before_minutes": 15, "buffer_after_minutes": 10}));
        assert_eq!(parsed.busy_lookup_range(monday_window()), iv("2026-11-02T12:45:00Z", "2026-11-02T23:10:00Z"));
        // The longest buffers widen the lookup by a day each way, no more (huge ones are refused).
        let widest =
            rules(json!({"buffer_before_minutes": MAX_BUFFER_MINUTES, "buffer_after_minutes": MAX_BUFFER_MINUTES}));
        assert_eq!(widest.busy_lookup_range(monday_window()), iv("2026-11-01T13:00:00Z", "2026-11-03T23:00:00Z"));
    }

    // ---- candidates and DST ------------------------------------------------------------------

    #[test]
    fn a_plain_day_yields_back_to_back_slots() {
        let slots = compute_slots(&rules(json!({})), monday_window(), long_ago(), &[user("u1", vec![])]);
        assert_eq!(slots.len(), 16);
        assert_eq!(slots[0].start, ts("2026-11-02T14:00:00Z"));
        assert_eq!(slots[0].end, ts("2026-11-02T14:30:00Z"));
        assert_eq!(slots[15].start, ts("2026-11-02T21:30:00Z"));
        assert_eq!(slots[15].end, ts("2026-11-02T22:00:00Z"));
        assert_eq!(slots[0].user_ids, vec!["u1".to_owned()]);
    }

    #[test]
    fn spring_forward_day_keeps_local_working_hours() {
        // 2026-03-08 is a Sunday; New York jumps from 02:00 EST to 03:00 EDT (a 23-hour day).
        let every_day =
            json!([{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "09:00", "end": "17:00"}]);
        let window = iv("2026-03-07T05:00:00Z", "2026-03-10T04:00:00Z"); // Sat..Mon, local midnights
        let slots =
            compute_slots(&rules(json!({"working_hours": every_day})), window, long_ago(), &[user("u1", vec![])]);
        assert_eq!(slots.len(), 3 * 16);
        let per_day: Vec<&[Slot]> = slots.chunks(16).collect();
        // Saturday, EST: 09:00 = 14:00Z.
        assert_eq!(per_day[0][0].start, ts("2026-03-07T14:00:00Z"));
        assert_eq!(per_day[0][15].start, ts("2026-03-07T21:30:00Z"));
        // Sunday, the transition day, EDT: 09:00 = 13:00Z, 16:30 = 20:30Z.
        assert_eq!(per_day[1][0].start, ts("2026-03-08T13:00:00Z"));
        assert_eq!(per_day[1][15].start, ts("2026-03-08T20:30:00Z"));
        assert_eq!(per_day[1][15].end, ts("2026-03-08T21:00:00Z"));
        // Monday, EDT.
        assert_eq!(per_day[2][0].start, ts("2026-03-09T13:00:00Z"));
        let local = local_starts(per_day[1], "America/New_York");
        assert_eq!(local.first().unwrap(), "2026-03-08 09:00");
        assert_eq!(local.last().unwrap(), "2026-03-08 16:30");
    }

    #[test]
    fn fall_back_day_keeps_local_working_hours() {
        // 2026-11-01 is a Sunday; New York goes from 02:00 EDT back to 01:00 EST (a 25-hour day).
        let weekend = json!([{"days": ["sat", "sun"], "start": "09:00", "end": "17:00"}]);
        let window = iv("2026-10-31T04:00:00Z", "2026-11-02T05:00:00Z"); // Sat 00:00 EDT..Mon 00:00 EST
        let slots = compute_slots(&rules(json!({"working_hours": weekend})), window, long_ago(), &[user("u1", vec![])]);
        assert_eq!(slots.len(), 32);
        // Saturday, still EDT: 09:00 = 13:00Z.
        assert_eq!(slots[0].start, ts("2026-10-31T13:00:00Z"));
        assert_eq!(slots[15].start, ts("2026-10-31T20:30:00Z"));
        // Sunday, EST: 09:00 = 14:00Z, 16:30 = 21:30Z.
        assert_eq!(slots[16].start, ts("2026-11-01T14:00:00Z"));
        assert_eq!(slots[31].start, ts("2026-11-01T21:30:00Z"));
        assert_eq!(slots[31].end, ts("2026-11-01T22:00:00Z"));
        let local = local_starts(&slots[16..], "America/New_York");
        assert_eq!(local.first().unwrap(), "2026-11-01 09:00");
        assert_eq!(local.last().unwrap(), "2026-11-01 16:30");
    }

    #[test]
    fn working_hours_inside_a_gap_start_after_it() {
        // 02:00 does not exist on 2026-03-08 in New York; `compatible` reads it as 03:00 EDT.
        let rules = rules(json!({"working_hours": [{"days": ["sun"], "start": "02:00", "end": "04:00"}]}));
        let window = iv("2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z");
        let slots = compute_slots(&rules, window, long_ago(), &[user("u1", vec![])]);
        assert_eq!(starts(&slots), vec!["2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"]);
    }

    #[test]
    fn working_hours_collapsing_inside_a_gap_yield_nothing() {
        // 02:30 (gap) reads as 03:30 EDT = 07:30Z, 03:00 is 07:00Z: the range is empty.
        let rules = rules(
            json!({"working_hours": [{"days": ["sun"], "start": "02:30", "end": "03:00"}], "duration_minutes": 5}),
        );
        let window = iv("2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z");
        assert!(compute_slots(&rules, window, long_ago(), &[user("u1", vec![])]).is_empty());
    }

    #[test]
    fn working_hours_across_a_fold_cover_the_repeated_hour_twice() {
        // 01:00 is ambiguous on 2026-11-01 in New York; `compatible` takes the earlier (EDT)
        // instant, 05:00Z; 02:00 is EST, 07:00Z. Two real hours of local 01:00-02:00.
        let rules = rules(json!({"working_hours": [{"days": ["sun"], "start": "01:00", "end": "02:00"}]}));
        let window = iv("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z");
        let slots = compute_slots(&rules, window, long_ago(), &[user("u1", vec![])]);
        assert_eq!(
            starts(&slots),
            vec!["2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z"]
        );
    }

    #[test]
    fn half_hour_dst_zone_shifts_by_thirty_minutes() {
        // Lord Howe: +11:00 in summer, +10:30 in winter; DST ends 2026-04-05 at 02:00 local.
        let rules = rules(json!({
            "time_zone": "Australia/Lord_Howe",
            "duration_minutes": 60,
            "working_hours": [{"days": ["sat", "sun"], "start": "09:00", "end": "10:00"}],
        }));
        let window = iv("2026-04-03T00:00:00Z", "2026-04-06T00:00:00Z");
        let slots = compute_slots(&rules, window, long_ago(), &[user("u1", vec![])]);
        assert_eq!(starts(&slots), vec!["2026-04-03T22:00:00Z", "2026-04-04T22:30:00Z"]);
    }

    #[test]
    fn end_of_day_rule_reaches_midnight() {
        let rules = rules(json!({
            "time_zone": "UTC",
            "duration_minutes": 60,
            "working_hours": [{"days": ["mon"], "start": "22:00", "end": "24:00"}],
        }));
        let window = iv("2026-11-02T00:00:00Z", "2026-11-04T00:00:00Z");
        let slots = compute_slots(&rules, window, long_ago(), &[user("u1", vec![])]);
        assert_eq!(starts(&slots), vec!["2026-11-02T22:00:00Z", "2026-11-02T23:00:00Z"]);
        assert_eq!(slots[1].end, ts("2026-11-03T00:00:00Z"));
    }

    #[test]
    fn end_of_day_rule_on_a_fall_back_day_is_25_hours() {
        let rules = rules(json!({
            "duration_minutes": 60,
            "working_hours": [{"days": ["sun"], "start": "00:00", "end": "24:00"}],
        }));
        let window = iv("2026-10-25T00:00:00Z", "2026-11-08T00:00:00Z");
        let slots = compute_slots(&rules, window, long_ago(), &[user("u1", vec![])]);
        // Sunday 10-25 is a normal 24-hour day, Sunday 11-01 has 25 hours.
        assert_eq!(slots.len(), 24 + 25);
        assert_eq!(slots[24].start, ts("2026-11-01T04:00:00Z"));
        assert_eq!(slots[48].end, ts("2026-11-02T05:00:00Z"));
    }

    #[test]
    fn step_grid_starts_at_the_working_hours_start() {
        let rules = rules(json!({
            "duration_minutes": 30, "step_minutes": 20,
            "working_hours": [{"days": ["mon"], "start": "09:10", "end": "10:30"}],
        }));
        let slots = compute_slots(&rules, monday_window(), long_ago(), &[user("u1", vec![])]);
        // 09:10, 09:30, 09:50 fit; 10:10 would end at 10:40 > 10:30.
        assert_eq!(
            local_starts(&slots, "America/New_York"),
            vec!["2026-11-02 09:10", "2026-11-02 09:30", "2026-11-02 09:50"]
        );
        assert!(slots.iter().all(|s| s.end == s.start + SignedDuration::from_mins(30)));
    }

    #[test]
    fn step_longer_than_duration_leaves_gaps() {
        let rules = rules(json!({
            "duration_minutes": 30, "step_minutes": 90,
            "working_hours": [{"days": ["mon"], "start": "09:00", "end": "12:00"}],
        }));
        let slots = compute_slots(&rules, monday_window(), long_ago(), &[user("u1", vec![])]);
        assert_eq!(local_starts(&slots, "America/New_York"), vec!["2026-11-02 09:00", "2026-11-02 10:30"]);
    }

    #[test]
    fn overlapping_rules_are_unioned_without_duplicates() {
        let rules = rules(json!({
            "duration_minutes": 30,
            "working_hours": [
                {"days": ["mon"], "start": "09:00", "end": "10:00"},
                {"days": ["mon", "tue"], "start": "09:30", "end": "10:30"},
                {"days": ["mon"], "start": "09:15", "end": "09:45"},
            ],
        }));
        let slots = compute_slots(&rules, monday_window(), long_ago(), &[user("u1", vec![])]);
        assert_eq!(
            local_starts(&slots, "America/New_York"),
            vec!["2026-11-02 09:00", "2026-11-02 09:15", "2026-11-02 09:30", "2026-11-02 10:00"]
        );
    }

    #[test]
    fn window_boundaries_cut_a_working_day_without_moving_the_grid() {
        // Window 10:07-12:10 local on a 09:00-17:00 day with 30-minute steps.
        let window = iv("2026-11-02T15:07:00Z", "2026-11-02T17:10:00Z");
        let slots = compute_slots(&rules(json!({})), window, long_ago(), &[user("u1", vec![])]);
        assert_eq!(
            local_starts(&slots, "America/New_York"),
            vec!["2026-11-02 10:30", "2026-11-02 11:00", "2026-11-02 11:30"]
        );
        // A slot may end exactly at the window end.
        let window = iv("2026-11-02T15:00:00Z", "2026-11-02T16:00:00Z");
        let slots = compute_slots(&rules(json!({})), window, long_ago(), &[user("u1", vec![])]);
        assert_eq!(starts(&slots), vec!["2026-11-02T15:00:00Z", "2026-11-02T15:30:00Z"]);
    }

    #[test]
    fn window_outside_working_days_yields_nothing() {
        // Saturday and Sunday only.
        let window = iv("2026-11-07T05:00:00Z", "2026-11-09T05:00:00Z");
        assert!(compute_slots(&rules(json!({})), window, long_ago(), &[user("u1", vec![])]).is_empty());
    }

    // ---- notice, busy, buffers ---------------------------------------------------------------

    #[test]
    fn minimum_notice_drops_early_slots() {
        let rules = rules(json!({"minimum_notice_minutes": 60}));
        // now = 09:45 local; earliest start = 10:45, so the first slot is 11:00.
        let now = ts("2026-11-02T14:45:00Z");
        let slots = compute_slots(&rules, monday_window(), now, &[user("u1", vec![])]);
        assert_eq!(slots[0].start, ts("2026-11-02T16:00:00Z"));
        // A start exactly at now + notice is allowed.
        let now = ts("2026-11-02T15:00:00Z");
        let slots = compute_slots(&rules, monday_window(), now, &[user("u1", vec![])]);
        assert_eq!(slots[0].start, ts("2026-11-02T16:00:00Z"));
        // One nanosecond later it is not.
        let now = ts("2026-11-02T15:00:00.000000001Z");
        let slots = compute_slots(&rules, monday_window(), now, &[user("u1", vec![])]);
        assert_eq!(slots[0].start, ts("2026-11-02T16:30:00Z"));
    }

    #[test]
    fn busy_time_blocks_overlapping_slots_only() {
        let busy = vec![
            iv("2026-11-02T15:10:00Z", "2026-11-02T15:20:00Z"), // inside 10:00-10:30 local
            iv("2026-11-02T16:30:00Z", "2026-11-02T17:00:00Z"), // exactly 11:30-12:00
            iv("2026-11-02T16:45:00Z", "2026-11-02T16:50:00Z"), // nested in the previous one
        ];
        let slots = compute_slots(&rules(json!({})), monday_window(), long_ago(), &[user("u1", busy)]);
        let local = local_starts(&slots, "America/New_York");
        assert!(!local.contains(&"2026-11-02 10:00".to_owned()));
        assert!(!local.contains(&"2026-11-02 11:30".to_owned()));
        assert!(local.contains(&"2026-11-02 09:30".to_owned()));
        assert!(local.contains(&"2026-11-02 10:30".to_owned()));
        assert!(local.contains(&"2026-11-02 11:00".to_owned()));
        assert!(local.contains(&"2026-11-02 12:00".to_owned()));
        assert_eq!(slots.len(), 14);
    }

    #[test]
    fn buffers_pad_the_slot_half_open() {
        let rules = rules(json!({"buffer_before_minutes": 15, "buffer_after_minutes": 10}));
        // Busy until 10:45 local: the 11:00 slot needs [10:45, 11:40) free, which it is.
        // Busy from 12:10 local: the 11:30 slot needs [11:15, 12:10) free, which it is.
        let busy = vec![
            iv("2026-11-02T15:30:00Z", "2026-11-02T15:45:00Z"),
            iv("2026-11-02T17:10:00Z", "2026-11-02T17:20:00Z"),
        ];
        let slots = compute_slots(&rules, monday_window(), long_ago(), &[user("u1", busy)]);
        let local = local_starts(&slots, "America/New_York");
        // 10:00 ([09:45, 10:40)) and 10:30 ([10:15, 11:10)) overlap 10:30-10:45.
        assert!(!local.contains(&"2026-11-02 10:00".to_owned()));
        assert!(!local.contains(&"2026-11-02 10:30".to_owned()));
        assert!(local.contains(&"2026-11-02 11:00".to_owned()));
        assert!(local.contains(&"2026-11-02 11:30".to_owned()));
        // 12:00 ([11:45, 12:40)) and 12:30 ([12:15, 13:10)) overlap 12:10-12:20.
        assert!(!local.contains(&"2026-11-02 12:00".to_owned()));
        assert!(!local.contains(&"2026-11-02 12:30".to_owned()));
        assert!(local.contains(&"2026-11-02 09:30".to_owned()));
        assert_eq!(slots.len(), 12);
    }

    #[test]
    fn buffers_see_busy_time_outside_the_window_and_working_hours() {
        let rules = rules(json!({"buffer_before_minutes": 30}));
        // A meeting 08:00-08:45 local blocks the 09:00 slot through its buffer, even though the
        // meeting is outside both the working hours and the window.
        let window = iv("2026-11-02T14:00:00Z", "2026-11-02T22:00:00Z");
        let busy = vec![iv("2026-11-02T13:00:00Z", "2026-11-02T13:45:00Z")];
        let slots = compute_slots(&rules, window, long_ago(), &[user("u1", busy)]);
        assert_eq!(slots[0].start, ts("2026-11-02T14:30:00Z"));
    }

    #[test]
    fn extra_busy_blocks_everyone() {
        let rules = rules(json!({
            "mode": "any",
            "extra_busy": [
                {"start": "2026-11-02T09:00:00-05:00", "end": "2026-11-02T10:00:00-05:00"},
                {"start": "2026-11-02T09:30:00-05:00", "end": "2026-11-02T10:15:00-05:00"},
            ],
        }));
        let slots = compute_slots(&rules, monday_window(), long_ago(), &[user("u1", vec![]), user("u2", vec![])]);
        let local = local_starts(&slots, "America/New_York");
        assert_eq!(local[0], "2026-11-02 10:30");
        assert_eq!(slots.len(), 16 - 3);
        assert!(slots.iter().all(|s| s.user_ids == ["u1", "u2"]));
    }

    // ---- modes and fail-closed ---------------------------------------------------------------

    /// u1 busy 09:00-10:00 local, u2 busy 09:30-10:30 local, u3 free.
    fn three_users() -> Vec<UserAvailability> {
        vec![
            user("u1", vec![iv("2026-11-02T14:00:00Z", "2026-11-02T15:00:00Z")]),
            user("u2", vec![iv("2026-11-02T14:30:00Z", "2026-11-02T15:30:00Z")]),
            user("u3", vec![]),
        ]
    }

    #[test]
    fn mode_all_needs_everyone_and_lists_everyone() {
        let slots = compute_slots(&rules(json!({})), monday_window(), long_ago(), &three_users());
        assert_eq!(slots[0].start, ts("2026-11-02T15:30:00Z"));
        assert_eq!(slots.len(), 16 - 3);
        assert!(slots.iter().all(|s| s.user_ids == ["u1", "u2", "u3"]));
    }

    #[test]
    fn mode_any_lists_the_free_users_in_input_order() {
        let mut users = three_users();
        users[2].busy = vec![iv("2026-11-02T14:00:00Z", "2026-11-02T16:00:00Z")];
        let slots = compute_slots(&rules(json!({"mode": "any"})), monday_window(), long_ago(), &users);
        let head: Vec<(String, Vec<String>)> =
            slots.iter().take(4).map(|s| (s.start.to_string(), s.user_ids.clone())).collect();
        let owned = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
        assert_eq!(
            head,
            vec![
                ("2026-11-02T14:00:00Z".into(), owned(&["u2"])),
                ("2026-11-02T15:00:00Z".into(), owned(&["u1"])),
                ("2026-11-02T15:30:00Z".into(), owned(&["u1", "u2"])),
                ("2026-11-02T16:00:00Z".into(), owned(&["u1", "u2", "u3"])),
            ],
            "09:30 local has nobody free and is not offered"
        );
    }

    #[test]
    fn unreadable_user_in_mode_all_means_no_slots() {
        let mut users = three_users();
        users.push(unreadable("u4"));
        assert!(compute_slots(&rules(json!({})), monday_window(), long_ago(), &users).is_empty());
    }

    #[test]
    fn unreadable_user_in_mode_any_is_never_listed() {
        let users = vec![unreadable("u0"), user("u1", vec![]), unreadable("u2")];
        let slots = compute_slots(&rules(json!({"mode": "any"})), monday_window(), long_ago(), &users);
        assert_eq!(slots.len(), 16);
        assert!(slots.iter().all(|s| s.user_ids == ["u1"]));
        let nobody = vec![unreadable("u0")];
        assert!(compute_slots(&rules(json!({"mode": "any"})), monday_window(), long_ago(), &nobody).is_empty());
    }

    #[test]
    fn inverted_busy_interval_fails_closed() {
        // Only a struct literal can build one; we refuse to guess what it meant.
        let inverted = Interval { start: ts("2026-11-02T16:00:00Z"), end: ts("2026-11-02T15:00:00Z") };
        let users = vec![user("u1", vec![inverted]), user("u2", vec![])];
        assert!(compute_slots(&rules(json!({})), monday_window(), long_ago(), &users).is_empty());
        let slots = compute_slots(&rules(json!({"mode": "any"})), monday_window(), long_ago(), &users);
        assert!(slots.iter().all(|s| s.user_ids == ["u2"]));
    }

    #[test]
    fn no_users_means_no_slots() {
        for mode in ["all", "any"] {
            assert!(compute_slots(&rules(json!({"mode": mode})), monday_window(), long_ago(), &[]).is_empty());
        }
    }

    #[test]
    fn a_page_stops_at_the_limit_and_names_the_next_start() {
        let rules = rules(json!({}));
        let users = [user("u1", vec![iv("2026-11-02T15:00:00Z", "2026-11-02T16:00:00Z")])];
        let all = compute_slots(&rules, monday_window(), long_ago(), &users);
        assert_eq!(all.len(), 14);
        let first = compute_slots_page(&rules, monday_window(), long_ago(), &users, 5);
        assert_eq!(first.slots, all[..5]);
        assert_eq!(first.next_start, Some(all[5].start));
        let whole = compute_slots_page(&rules, monday_window(), long_ago(), &users, 14);
        assert_eq!((whole.slots, whole.next_start), (all, None), "no next start when nothing is left out");
    }

    #[test]
    fn slot_serializes_as_rfc3339() {
        let slot =
            Slot { start: ts("2026-11-01T14:00:00Z"), end: ts("2026-11-01T14:30:00Z"), user_ids: vec!["u1".into()] };
        assert_eq!(
            serde_json::to_value(slot).unwrap(),
            json!({"start": "2026-11-01T14:00:00Z", "end": "2026-11-01T14:30:00Z", "user_ids": ["u1"]})
        );
    }
}
