//! A half-open span of absolute time, `[start, end)`, and the merge that busy-time logic needs.
//!
//! Busy times, availability windows and bookable slots are all intervals of instants
//! (`jiff::Timestamp`), never of local civil times: local times are ambiguous around DST changes,
//! instants are not. Half-open means back-to-back meetings (one ending at 10:00, the next starting
//! at 10:00) do not overlap.
//!
//! Contract: an [`Interval`] built by [`Interval::new`] or deserialized from JSON always has
//! `start < end`. The fields are public so callers can destructure and pattern-match; code that
//! builds one with a struct literal takes over that promise. [`merge`] is defensive anyway: it
//! treats an interval with `end <= start` as the empty set it denotes.
//!
//! JSON shape: `{"start": "2026-11-01T14:00:00Z", "end": "2026-11-01T14:30:00Z"}` (RFC 3339,
//! any offset accepted on input, UTC on output).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Why two instants do not make an interval.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum IntervalError {
    #[error("interval end ({end}) must be after its start ({start})")]
    EndNotAfterStart { start: Timestamp, end: Timestamp },
}

/// `[start, end)` with `start < end`.
///
/// Ordering is by `start`, then `end`, which is the order [`merge`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawInterval")]
pub struct Interval {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The unchecked JSON form; deserializing an [`Interval`] goes through [`Interval::new`] so that
/// an inverted or empty interval is rejected at the edge instead of silently blocking nothing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterval {
    start: Timestamp,
    end: Timestamp,
}

impl TryFrom<RawInterval> for Interval {
    type Error = IntervalError;

    fn try_from(raw: RawInterval) -> Result<Self, Self::Error> {
        Interval::new(raw.start, raw.end)
    }
}

impl Interval {
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Interval, IntervalError> {
        if start < end { Ok(Interval { start, end }) } else { Err(IntervalError::EndNotAfterStart { start, end }) }
    }

    /// True when the two intervals share at least one instant. Touching intervals
    /// (`a.end == b.start`) do not overlap.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// True when `instant` lies in `[start, end)`.
    pub fn contains(&self, instant: Timestamp) -> bool {
        self.start <= instant && instant < self.end
    }

    pub fn duration(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }
}

/// Sorts intervals by start and coalesces every pair that overlaps or touches, so the result is
/// strictly increasing with a gap between consecutive intervals. Merging touching intervals is
/// what makes "is this range free?" a single look at one neighbour.
///
/// Intervals with `end <= start` are dropped: as half-open sets they contain no instant.
pub fn merge(intervals: impl IntoIterator<Item = Interval>) -> Vec<Interval> {
    let mut sorted: Vec<Interval> = intervals.into_iter().filter(|interval| interval.start < interval.end).collect();
    sorted.sort_unstable();

    let mut merged: Vec<Interval> = Vec::with_capacity(sorted.len());
    for interval in sorted {
        match merged.last_mut() {
            Some(last) if interval.start <= last.end => last.end = last.end.max(interval.end),
            _ => merged.push(interval),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn iv(start: &str, end: &str) -> Interval {
        Interval::new(ts(start), ts(end)).unwrap()
    }

    #[test]
    fn new_rejects_empty_and_inverted() {
        let t = ts("2026-11-01T14:00:00Z");
        assert_eq!(Interval::new(t, t), Err(IntervalError::EndNotAfterStart { start: t, end: t }));
        assert!(Interval::new(ts("2026-11-01T15:00:00Z"), t).is_err());
        assert!(Interval::new(t, ts("2026-11-01T14:00:00.000000001Z")).is_ok());
    }

    #[test]
    fn overlap_is_half_open() {
        let a = iv("2026-11-01T09:00:00Z", "2026-11-01T10:00:00Z");
        let touching = iv("2026-11-01T10:00:00Z", "2026-11-01T11:00:00Z");
        let crossing = iv("2026-11-01T09:59:59Z", "2026-11-01T11:00:00Z");
        let inside = iv("2026-11-01T09:10:00Z", "2026-11-01T09:20:00Z");
        assert!(!a.overlaps(&touching));
        assert!(!touching.overlaps(&a));
        assert!(a.overlaps(&crossing));
        assert!(crossing.overlaps(&a));
        assert!(a.overlaps(&inside));
        assert!(inside.overlaps(&a));
        assert!(a.overlaps(&a));
    }

    #[test]
    fn contains_includes_start_excludes_end() {
        let a = iv("2026-11-01T09:00:00Z", "2026-11-01T10:00:00Z");
        assert!(a.contains(ts("2026-11-01T09:00:00Z")));
        assert!(a.contains(ts("2026-11-01T09:59:59.999999999Z")));
        assert!(!a.contains(ts("2026-11-01T10:00:00Z")));
        assert!(!a.contains(ts("2026-11-01T08:59:59Z")));
    }

    #[test]
    fn duration_is_end_minus_start() {
        let a = iv("2026-11-01T09:00:00Z", "2026-11-01T10:30:00Z");
        assert_eq!(a.duration(), SignedDuration::from_mins(90));
    }

    #[test]
    fn merge_sorts_and_coalesces_overlapping_and_touching() {
        let merged = merge([
            iv("2026-11-01T13:00:00Z", "2026-11-01T14:00:00Z"),
            iv("2026-11-01T09:00:00Z", "2026-11-01T10:00:00Z"),
            iv("2026-11-01T10:00:00Z", "2026-11-01T10:30:00Z"), // touches the previous one
            iv("2026-11-01T09:15:00Z", "2026-11-01T09:45:00Z"), // nested
            iv("2026-11-01T13:30:00Z", "2026-11-01T15:00:00Z"), // overlaps
            iv("2026-11-01T10:30:00.000000001Z", "2026-11-01T11:00:00Z"), // 1 ns gap: kept apart
        ]);
        assert_eq!(
            merged,
            vec![
                iv("2026-11-01T09:00:00Z", "2026-11-01T10:30:00Z"),
                iv("2026-11-01T10:30:00.000000001Z", "2026-11-01T11:00:00Z"),
                iv("2026-11-01T13:00:00Z", "2026-11-01T15:00:00Z"),
            ]
        );
    }

    #[test]
    fn merge_of_nothing_is_nothing() {
        assert!(merge(Vec::new()).is_empty());
    }

    #[test]
    fn merge_drops_intervals_that_contain_no_instant() {
        let t = ts("2026-11-01T09:00:00Z");
        let later = ts("2026-11-01T10:00:00Z");
        let merged = merge([
            Interval { start: t, end: t },
            Interval { start: later, end: t },
            iv("2026-11-01T11:00:00Z", "2026-11-01T12:00:00Z"),
        ]);
        assert_eq!(merged, vec![iv("2026-11-01T11:00:00Z", "2026-11-01T12:00:00Z")]);
    }

    #[test]
    fn serde_round_trips_as_rfc3339_and_rejects_inverted() {
        let a = iv("2026-11-01T09:00:00-05:00", "2026-11-01T09:30:00-05:00");
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(json, serde_json::json!({"start": "2026-11-01T14:00:00Z", "end": "2026-11-01T14:30:00Z"}));
        let back: Interval = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);

        let inverted = serde_json::json!({"start": "2026-11-01T15:00:00Z", "end": "2026-11-01T14:00:00Z"});
        let err = serde_json::from_value::<Interval>(inverted).unwrap_err();
        assert!(err.to_string().contains("must be after its start"), "{err}");

        let extra = serde_json::json!({"start": "2026-11-01T14:00:00Z", "end": "2026-11-01T15:00:00Z", "x": 1});
        assert!(serde_json::from_value::<Interval>(extra).is_err());
    }
}
