//! Order statistics over samples, in the units the caller chose.

use serde_json::{Value, json};

/// The `q` quantile (0..=1) by nearest rank of sorted `samples`.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// min / median / max (and p90, p99) of `samples`, as JSON.
pub fn summary(samples: &[f64]) -> Value {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    json!({
        "n": sorted.len(),
        "min": sorted.first(),
        "median": quantile(&sorted, 0.5),
        "p90": quantile(&sorted, 0.9),
        "p99": quantile(&sorted, 0.99),
        "max": sorted.last(),
    })
}
