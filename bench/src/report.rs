//! Printing what was measured.

use std::time::Duration;

use order_host::domain::OrderState;

use crate::Outcome;

/// The `p`-th percentile (0–100) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The chaos run's report: end states, a histogram of start→end times, and the share shipped within the budget.
pub fn chaos(outcomes: &[Outcome], budget: Duration, wall: Duration) {
    let total = outcomes.len();
    let mut by_state: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for o in outcomes {
        *by_state.entry(o.state.map_or_else(|| "not started".to_owned(), |s| s.to_string())).or_default() += 1;
    }
    println!("end states: {by_state:?}");

    let mut shipped: Vec<Duration> =
        outcomes.iter().filter(|o| o.state == Some(OrderState::Shipped)).map(|o| o.elapsed).collect();
    shipped.sort();
    println!("start→shipped, {} orders:", shipped.len());
    let bucket = Duration::from_secs(2);
    let top = shipped.last().copied().unwrap_or_default();
    let mut from = Duration::ZERO;
    while from <= top {
        let to = from + bucket;
        let n = shipped.iter().filter(|d| **d >= from && **d < to).count();
        println!("  {:>3}–{:<3}s {:>4}  {}", from.as_secs(), to.as_secs(), n, "#".repeat(n.div_ceil(2)));
        from = to;
    }
    let within = shipped.iter().filter(|d| **d <= budget).count();
    let share = if total == 0 { 0.0 } else { within as f64 / total as f64 };
    println!(
        "p50={:.2}s p90={:.2}s p99={:.2}s max={:.2}s wall={:.1}s",
        percentile(&shipped, 50.0).as_secs_f64(),
        percentile(&shipped, 90.0).as_secs_f64(),
        percentile(&shipped, 99.0).as_secs_f64(),
        top.as_secs_f64(),
        wall.as_secs_f64()
    );
    println!(
        "shipped_within_budget={within}/{total} share={:.3} budget_s={} goal=0.99 {}",
        share,
        budget.as_secs(),
        if share >= 0.99 { "met" } else { "MISSED" }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let d: Vec<_> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 50.0), Duration::from_millis(51));
        assert_eq!(percentile(&d, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
