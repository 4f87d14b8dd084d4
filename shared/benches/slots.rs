//! Slot engine throughput on the sizing scenario: 50 users, one week, 200 busy intervals each.
//!
//! The week runs Thursday 2026-10-29 to Thursday 2026-11-05 in America/New_York, so it contains
//! the end of DST (Sunday 2026-11-01) with working days on both sides of it. Working hours are
//! Mon-Fri 09:00-17:00, slots 30 minutes on a 15-minute step with a 10-minute after-buffer and
//! an hour of notice. Busy times come from a fixed-seed generator, so every run measures the
//! same input; they are unsorted and overlap, as Google's may. Target: median under 1 ms.

use std::hint::black_box;

use calbridge::domain::Interval;
use calbridge::usecases::slots::{
    BusyRequest, Mode, SlotRules, SlotsRequest, UserAvailability, WorkingHoursRequest, compute_slots,
};
use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};

const USERS: usize = 50;
const BUSY_PER_USER: usize = 200;

/// SplitMix64: tiny, deterministic, good enough to scatter meetings.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> i64 {
        (self.next() % bound) as i64
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn rules(mode: Mode) -> SlotRules {
    SlotRules::parse(SlotsRequest {
        duration_minutes: 30,
        step_minutes: Some(15),
        time_zone: "America/New_York".into(),
        working_hours: vec![WorkingHoursRequest {
            days: ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec(),
            start: "09:00".into(),
            end: "17:00".into(),
        }],
        buffer_before_minutes: 0,
        buffer_after_minutes: 10,
        minimum_notice_minutes: 60,
        mode,
        extra_busy: vec![BusyRequest { start: ts("2026-11-02T14:00:00-05:00"), end: ts("2026-11-02T15:00:00-05:00") }],
    })
    .unwrap()
}

/// Thursday 00:00 EDT to the next Thursday 00:00 EST.
fn window() -> Interval {
    Interval::new(ts("2026-10-29T04:00:00Z"), ts("2026-11-05T05:00:00Z")).unwrap()
}

/// 200 meetings of 15 to 60 minutes on a 5-minute grid, anywhere in the week, per user, in
/// generation order (unsorted, overlapping). That is about 28 a day: busy enough that in `all`
/// mode no slot survives (the early-exit path) and in `any` mode most slots list a few users.
fn users() -> Vec<UserAvailability> {
    let mut rng = SplitMix64(0x00C0_FFEE);
    let week_start = window().start;
    (0..USERS)
        .map(|i| {
            let busy = (0..BUSY_PER_USER)
                .map(|_| {
                    let offset = rng.below(7 * 24 * 12) * 5;
                    let length = 15 + rng.below(10) * 5;
                    let start = week_start + SignedDuration::from_mins(offset);
                    Interval::new(start, start + SignedDuration::from_mins(length)).unwrap()
                })
                .collect();
            UserAvailability { user_id: format!("user-{i:02}"), busy, readable: true }
        })
        .collect()
}

fn bench_slots(c: &mut Criterion) {
    let users = users();
    let window = window();
    let now = ts("2026-10-28T12:00:00Z");

    for (name, mode) in [("all", Mode::All), ("any", Mode::Any)] {
        let rules = rules(mode);
        let slots = compute_slots(&rules, window, now, &users);
        let listed: usize = slots.iter().map(|s| s.user_ids.len()).sum();
        eprintln!("mode {name}: {} slots, {listed} user ids listed in total", slots.len());
        c.bench_function(&format!("slots_50_users_1_week_200_busy_{name}"), |b| {
            b.iter(|| compute_slots(black_box(&rules), black_box(window), black_box(now), black_box(&users)))
        });
    }
}

criterion_group!(benches, bench_slots);
criterion_main!(benches);
