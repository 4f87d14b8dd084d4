//! Property tests for the slot engine: random rules, zones, windows around DST changes, busy
//! times and readability, checked against a brute-force reference.
//!
//! The reference deliberately shares nothing with the engine's algorithm: it walks every minute
//! of the window and asks, for that minute, each question the contract asks (on a working-hours
//! step grid? inside the window? enough notice? anyone busy within the buffers?) by looking at
//! every rule range and every busy interval. It is slow and obviously right; the engine must
//! produce exactly its output. Every zone used has whole-minute UTC offsets and every window
//! starts on a whole minute, so every possible slot start is one of the scanned minutes.

use calbridge::domain::{Interval, merge};
use calbridge::usecases::slots::{
    BusyRequest, MIN_STEP_MINUTES, Mode, Slot, SlotRules, SlotsRequest, UserAvailability, WorkingHoursRequest,
    compute_slots, compute_slots_page,
};
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use proptest::prelude::*;

const ZONES: [&str; 6] =
    ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC", "America/Santiago"];

/// 2026 DST changes: US spring forward, EU spring forward, Chile and Australia fall back,
/// Australia spring forward, EU fall back, US fall back.
const TRANSITION_DAYS: [(i16, i8, i8); 6] =
    [(2026, 3, 8), (2026, 3, 29), (2026, 4, 5), (2026, 10, 4), (2026, 10, 25), (2026, 11, 1)];

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const MINUTE: SignedDuration = SignedDuration::from_mins(1);

/// One working-hours rule: Monday-zero weekdays, minutes since local midnight (end <= 1440).
#[derive(Debug, Clone)]
struct Rule {
    days: Vec<usize>,
    uppercase_days: bool,
    start_minute: i64,
    end_minute: i64,
}

#[derive(Debug, Clone)]
struct Scenario {
    zone: &'static str,
    rules: Vec<Rule>,
    duration_minutes: i64,
    step_minutes: Option<i64>,
    buffer_before_minutes: i64,
    buffer_after_minutes: i64,
    minimum_notice_minutes: i64,
    mode: Mode,
    extra_busy: Vec<Interval>,
    window: Interval,
    now: Timestamp,
    users: Vec<UserAvailability>,
}

impl Scenario {
    fn step_minutes(&self) -> i64 {
        self.step_minutes.unwrap_or(self.duration_minutes)
    }

    fn request(&self) -> SlotsRequest {
        SlotsRequest {
            duration_minutes: self.duration_minutes,
            step_minutes: self.step_minutes,
            time_zone: self.zone.to_owned(),
            working_hours: self
                .rules
                .iter()
                .map(|rule| WorkingHoursRequest {
                    days: rule
                        .days
                        .iter()
                        .map(
                            |&d| {
                                if rule.uppercase_days { DAY_NAMES[d].to_uppercase() } else { DAY_NAMES[d].to_owned() }
                            },
                        )
                        .collect(),
                    start: clock(rule.start_minute),
                    end: clock(rule.end_minute),
                })
                .collect(),
            buffer_before_minutes: self.buffer_before_minutes,
            buffer_after_minutes: self.buffer_after_minutes,
            minimum_notice_minutes: self.minimum_notice_minutes,
            mode: self.mode,
            extra_busy: self.extra_busy.iter().map(|i| BusyRequest { start: i.start, end: i.end }).collect(),
        }
    }
}

fn clock(minute_of_day: i64) -> String {
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

/// The instants of `rule` on local `day`: local start and end (24:00 = next midnight) resolved
/// with `compatible`, or `None` when the range is empty after conversion.
fn rule_range(tz: &TimeZone, day: Date, rule: &Rule) -> Option<Interval> {
    let local = |minute: i64| {
        let civil = day.at(0, 0, 0, 0) + minute.minutes();
        tz.to_ambiguous_timestamp(civil).compatible().unwrap()
    };
    Interval::new(local(rule.start_minute), local(rule.end_minute)).ok()
}

fn applies_on(rule: &Rule, day: Date) -> bool {
    rule.days.contains(&(day.weekday().to_monday_zero_offset() as usize))
}

fn local_date(tz: &TimeZone, instant: Timestamp) -> Date {
    tz.to_datetime(instant).date()
}

/// Every rule range on every local date near the window (two spare days each side).
fn all_rule_ranges(s: &Scenario, tz: &TimeZone) -> Vec<Interval> {
    let first = local_date(tz, s.window.start) - 2.days();
    let last = local_date(tz, s.window.end) + 2.days();
    let mut ranges = Vec::new();
    let mut day = first;
    while day <= last {
        for rule in &s.rules {
            if applies_on(rule, day) {
                ranges.extend(rule_range(tz, day, rule));
            }
        }
        day = day.tomorrow().unwrap();
    }
    ranges
}

fn padded(s: &Scenario, start: Timestamp, end: Timestamp) -> Interval {
    Interval {
        start: start - MINUTE * s.buffer_before_minutes as i32,
        end: end + MINUTE * s.buffer_after_minutes as i32,
    }
}

/// The brute-force answer: scan every minute of the window.
fn reference(s: &Scenario) -> Vec<Slot> {
    let tz = TimeZone::get(s.zone).unwrap();
    let ranges = all_rule_ranges(s, &tz);
    let duration = MINUTE * s.duration_minutes as i32;
    let step_nanos = i128::from(s.step_minutes()) * 60_000_000_000;
    let earliest = s.now + MINUTE * s.minimum_notice_minutes as i32;

    let mut slots = Vec::new();
    let mut minute = s.window.start;
    while minute < s.window.end {
        let start = minute;
        minute += MINUTE;
        let end = start + duration;

        let on_grid = ranges.iter().any(|range| {
            range.start <= start && end <= range.end && start.duration_since(range.start).as_nanos() % step_nanos == 0
        });
        if !on_grid || end > s.window.end || start < earliest {
            continue;
        }
        let need_free = padded(s, start, end);
        if s.extra_busy.iter().any(|busy| busy.overlaps(&need_free)) {
            continue;
        }
        let free: Vec<String> = s
            .users
            .iter()
            .filter(|user| user.readable && !user.busy.iter().any(|b| b.overlaps(&need_free)))
            .map(|user| user.user_id.clone())
            .collect();
        let offered = match s.mode {
            Mode::All => !s.users.is_empty() && free.len() == s.users.len(),
            Mode::Any => !free.is_empty(),
        };
        if offered {
            slots.push(Slot { start, end, user_ids: free });
        }
    }
    slots
}

// ---- strategies ------------------------------------------------------------------------------

/// Rule bounds on a 5- or 15-minute grid, anywhere in the day, or crowded into the small hours
/// (where NY, London and Lord Howe change their clocks) or the late evening up to 24:00 (where
/// Santiago does), so that gaps and folds fall inside or on the edge of a rule often.
fn rule_strategy() -> impl Strategy<Value = Rule> {
    let days = proptest::sample::subsequence((0..7).collect::<Vec<usize>>(), 1..=7);
    let hours = prop_oneof![
        2 => Just((0i64, 24i64)),
        1 => Just((0, 4)),
        1 => Just((21, 24)),
    ];
    let bounds =
        (hours, prop_oneof![Just(5i64), Just(15i64)]).prop_flat_map(|((first_hour, last_hour), granularity)| {
            let lowest = first_hour * 60 / granularity;
            let highest = last_hour * 60 / granularity;
            (lowest..highest).prop_flat_map(move |start| {
                ((start + 1)..=highest).prop_map(move |end| (start * granularity, end * granularity))
            })
        });
    (days, any::<bool>(), bounds).prop_map(|(days, uppercase_days, (start_minute, end_minute))| Rule {
        days,
        uppercase_days,
        start_minute,
        end_minute,
    })
}

/// The transition days that matter for `zone`; every day for zones without DST.
fn own_transition_days(zone: &str) -> Vec<(i16, i8, i8)> {
    match zone {
        "America/New_York" => vec![(2026, 3, 8), (2026, 11, 1)],
        "Europe/London" => vec![(2026, 3, 29), (2026, 10, 25)],
        "Australia/Lord_Howe" => vec![(2026, 4, 5), (2026, 10, 4)],
        "America/Santiago" => vec![(2026, 4, 5)],
        _ => TRANSITION_DAYS.to_vec(),
    }
}

/// A window of up to four days starting within a few days of a transition day (usually one of
/// the zone's own, so the change happens inside the window more often than not).
fn window_strategy(zone: &'static str) -> impl Strategy<Value = Interval> {
    let anchor = prop_oneof![
        2 => proptest::sample::select(own_transition_days(zone)),
        1 => proptest::sample::select(TRANSITION_DAYS.to_vec()),
    ];
    let offset = prop_oneof![(-2 * 1440i64)..=0, (-5 * 1440i64)..=(3 * 1440)];
    (anchor, offset, 1i64..=(4 * 1440)).prop_map(|((y, m, d), offset, length)| {
        let start = date(y, m, d).at(0, 0, 0, 0).in_tz("UTC").unwrap().timestamp() + SignedDuration::from_mins(offset);
        Interval::new(start, start + SignedDuration::from_mins(length)).unwrap()
    })
}

/// Busy intervals anywhere from a day before the window start to five days after it, on whole
/// minutes or, sometimes, at odd seconds to exercise exact half-open comparisons.
fn busy_strategy(window_start: Timestamp, max: usize) -> impl Strategy<Value = Vec<Interval>> {
    let one = (-1440i64..(5 * 1440), 1i64..=240, prop_oneof![3 => Just(0i64), 1 => 1i64..60]).prop_map(
        move |(offset, length, seconds)| {
            let start = window_start + SignedDuration::from_secs(offset * 60 + seconds);
            Interval::new(start, start + SignedDuration::from_mins(length)).unwrap()
        },
    );
    proptest::collection::vec(one, 0..=max)
}

fn user_strategy(window_start: Timestamp) -> impl Strategy<Value = (bool, Vec<Interval>)> {
    (prop::bool::weighted(0.85), busy_strategy(window_start, 8))
}

fn scenario_strategy() -> impl Strategy<Value = Scenario> {
    let zone_and_window =
        proptest::sample::select(ZONES.to_vec()).prop_flat_map(|zone| (Just(zone), window_strategy(zone)));
    let settings = (
        proptest::collection::vec(rule_strategy(), 1..=3),
        prop_oneof![Just(15i64), Just(30), Just(60), 1i64..=240],
        prop_oneof![Just(None), (MIN_STEP_MINUTES..=120).prop_map(Some), Just(Some(15))],
        prop_oneof![Just(0i64), 0i64..=45],
        prop_oneof![Just(0i64), 0i64..=45],
        prop_oneof![2 => Just(0i64), 1 => 0i64..=1440],
        prop_oneof![Just(Mode::All), Just(Mode::Any)],
    );
    (zone_and_window, settings).prop_flat_map(|((zone, window), settings)| {
        let now = (-2 * 86_400i64..=86_400).prop_map(move |secs| window.start + SignedDuration::from_secs(secs));
        let users = proptest::collection::vec(user_strategy(window.start), 1..=4);
        let extra_busy = busy_strategy(window.start, 3);
        (Just(window), Just(settings), now, users, extra_busy).prop_map(
            move |(window, settings, now, users, extra_busy)| {
                let (rules, duration, step, before, after, notice, mode) = settings;
                Scenario {
                    zone,
                    rules,
                    duration_minutes: duration,
                    // The default step is the duration, which must then meet the floor too.
                    step_minutes: if step.is_none() && duration < MIN_STEP_MINUTES {
                        Some(MIN_STEP_MINUTES)
                    } else {
                        step
                    },
                    buffer_before_minutes: before,
                    buffer_after_minutes: after,
                    minimum_notice_minutes: notice,
                    mode,
                    extra_busy,
                    window,
                    now,
                    users: users
                        .into_iter()
                        .enumerate()
                        .map(|(i, (readable, busy))| UserAvailability { user_id: format!("user-{i}"), busy, readable })
                        .collect(),
                }
            },
        )
    })
}

// ---- properties -------------------------------------------------------------------------------

proptest! {
    #[test]
    fn slots_are_free_inside_working_hours_and_match_brute_force(s in scenario_strategy()) {
        let rules = SlotRules::parse(s.request()).expect("generated rules are valid");
        let slots = compute_slots(&rules, s.window, s.now, &s.users);
        let tz = TimeZone::get(s.zone).unwrap();

        for slot in &slots {
            // (1) Padded by the buffers, the slot meets no busy time of its users nor extra_busy.
            let need_free = padded(&s, slot.start, slot.end);
            prop_assert!(!s.extra_busy.iter().any(|b| b.overlaps(&need_free)), "extra_busy hit: {slot:?}");
            prop_assert!(!slot.user_ids.is_empty());
            for id in &slot.user_ids {
                let user = s.users.iter().find(|u| &u.user_id == id).expect("listed user exists");
                prop_assert!(user.readable, "unreadable user listed: {slot:?}");
                prop_assert!(!user.busy.iter().any(|b| b.overlaps(&need_free)), "{id} busy: {slot:?}");
            }

            // (2) The slot lies in one rule's range on its own local date.
            let day = local_date(&tz, slot.start);
            prop_assert_eq!(day, local_date(&tz, slot.end - SignedDuration::from_nanos(1)));
            let inside = s.rules.iter().any(|rule| {
                applies_on(rule, day)
                    && rule_range(&tz, day, rule)
                        .is_some_and(|r| r.start <= slot.start && slot.end <= r.end)
            });
            prop_assert!(inside, "outside working hours: {:?} local {}", slot, tz.to_datetime(slot.start));
        }

        // (3) Exactly the brute-force answer, in order.
        let expected = reference(&s);
        prop_assert_eq!(slots, expected);
    }

    #[test]
    fn paging_from_next_start_returns_exactly_the_whole_window(s in scenario_strategy(), limit in 1usize..=12) {
        let rules = SlotRules::parse(s.request()).expect("generated rules are valid");
        let whole = compute_slots(&rules, s.window, s.now, &s.users);
        let mut paged: Vec<Slot> = Vec::new();
        let mut window = s.window;
        loop {
            let page = compute_slots_page(&rules, window, s.now, &s.users, limit);
            prop_assert!(page.slots.len() <= limit);
            paged.extend(page.slots);
            let Some(next) = page.next_start else { break };
            prop_assert!(next > window.start, "paging makes progress");
            window = Interval::new(next, s.window.end).expect("the next start lies inside the window");
        }
        prop_assert_eq!(paged, whole);
    }

    #[test]
    fn merge_keeps_every_instant_and_separates_intervals(
        raw in proptest::collection::vec((0i64..500, 1i64..60), 0..30)
    ) {
        let base: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let at = |minute: i64| base + SignedDuration::from_mins(minute);
        let intervals: Vec<Interval> = raw
            .iter()
            .map(|&(start, len)| Interval::new(at(start), at(start + len)).unwrap())
            .collect();
        let merged = merge(intervals.clone());
        for pair in merged.windows(2) {
            prop_assert!(pair[0].end < pair[1].start, "not separated: {pair:?}");
        }
        for minute in 0..600 {
            let t = at(minute);
            prop_assert_eq!(
                intervals.iter().any(|i| i.contains(t)),
                merged.iter().any(|i| i.contains(t)),
                "minute {}", minute
            );
        }
    }
}

/// A hand-checked anchor for the reference itself, so that a bug shared by the reference and
/// the engine cannot hide: the fall-back Sunday in New York, 09:00-17:00, 30-minute slots.
#[test]
fn reference_agrees_with_hand_computed_fall_back_day() {
    let s = Scenario {
        zone: "America/New_York",
        rules: vec![Rule { days: vec![6], uppercase_days: false, start_minute: 9 * 60, end_minute: 17 * 60 }],
        duration_minutes: 30,
        step_minutes: None,
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        minimum_notice_minutes: 0,
        mode: Mode::All,
        extra_busy: vec![],
        window: Interval::new("2026-11-01T00:00:00Z".parse().unwrap(), "2026-11-02T12:00:00Z".parse().unwrap())
            .unwrap(),
        now: "2026-01-01T00:00:00Z".parse().unwrap(),
        users: vec![UserAvailability { user_id: "u".into(), busy: vec![], readable: true }],
    };
    let slots = reference(&s);
    assert_eq!(slots.len(), 16);
    assert_eq!(slots[0].start.to_string(), "2026-11-01T14:00:00Z");
    assert_eq!(slots[15].start.to_string(), "2026-11-01T21:30:00Z");
    let rules = SlotRules::parse(s.request()).unwrap();
    assert_eq!(compute_slots(&rules, s.window, s.now, &s.users), slots);
}
