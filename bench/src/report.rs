//! Printing what was measured.

use std::collections::BTreeMap;
use std::time::Duration;

use order_host::domain::OrderState;

/// How one order ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: Option<OrderState>,
    pub elapsed: Duration,
}

/// A batch of orders.
#[derive(Debug, Clone)]
pub struct Run {
    pub outcomes: Vec<Outcome>,
    pub wall: Duration,
}

impl Run {
    pub fn shipped(&self) -> Vec<Duration> {
        let mut d: Vec<_> =
            self.outcomes.iter().filter(|o| o.state == Some(OrderState::Shipped)).map(|o| o.elapsed).collect();
        d.sort();
        d
    }

    pub fn per_second(&self) -> f64 {
        self.outcomes.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    pub fn states(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for o in &self.outcomes {
            *m.entry(o.state.map_or_else(|| "not started".to_owned(), |s| s.to_string())).or_default() += 1;
        }
        m
    }
}

/// The `p`-th percentile (0–100) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn histogram(shipped: &[Duration]) {
    let top = shipped.last().copied().unwrap_or_default();
    let bucket = if top > Duration::from_secs(4) { Duration::from_secs(2) } else { Duration::from_millis(250) };
    let mut from = Duration::ZERO;
    while from <= top {
        let to = from + bucket;
        let n = shipped.iter().filter(|d| **d >= from && **d < to).count();
        println!("  {:>7.2}–{:<7.2}s {:>5}  {}", from.as_secs_f64(), to.as_secs_f64(), n, "#".repeat(n.div_ceil(4)));
        from = to;
    }
}

fn line(label: &str, run: &Run) {
    let s = run.shipped();
    println!(
        "{label:<6} {:>8.1} orders/s  p50 {:>8.1} ms  p90 {:>8.1} ms  p99 {:>8.1} ms  ends {:?}",
        run.per_second(),
        ms(percentile(&s, 50.0)),
        ms(percentile(&s, 90.0)),
        ms(percentile(&s, 99.0)),
        run.states()
    );
}

/// Where activity time went during a load run, in seconds.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_field_names)]
pub struct ActivityTime {
    /// Inside plugin calls (fresh instance + call).
    pub plugin_s: f64,
    /// Activity attempts running in the worker (failure simulation, plugin, database, event).
    pub worker_s: f64,
    /// Activities from scheduling to completion as Temporal recorded them (dispatch, retries and all).
    pub temporal_s: f64,
}

/// The load report; its last line is the machine-readable summary.
pub fn load(ours: &Run, floor: Option<&Run>, time: ActivityTime, budget: Duration) {
    let shipped = ours.shipped();
    println!("start→shipped through the REST API, {} orders:", shipped.len());
    histogram(&shipped);
    line("host", ours);
    if let Some(floor) = floor {
        line("floor", floor);
    }
    let share = |of: f64| if of > 0.0 { 100.0 * time.plugin_s / of } else { 0.0 };
    println!(
        "plugin calls: {:.3} s = {:.2} % of the {:.3} s activities took as Temporal saw them (goal ≤ 1 %), \
         {:.2} % of the {:.3} s they ran inside the worker",
        time.plugin_s,
        share(time.temporal_s),
        time.temporal_s,
        share(time.worker_s),
        time.worker_s
    );
    let within = shipped.iter().filter(|d| **d <= budget).count();
    let total = ours.outcomes.len();
    println!(
        "shipped within {} s: {within}/{total} ({:.1} %, goal ≥ 99 % under chaos)",
        budget.as_secs(),
        100.0 * within as f64 / total.max(1) as f64
    );
    let floor_rate = floor.map_or(0.0, Run::per_second);
    let ratio = if floor_rate > 0.0 { ours.per_second() / floor_rate } else { 0.0 };
    println!(
        "orders_per_s={:.1} floor_orders_per_s={:.1} ratio={:.2} p50_ms={:.0} p99_ms={:.0}",
        ours.per_second(),
        floor_rate,
        ratio,
        ms(percentile(&shipped, 50.0)),
        ms(percentile(&shipped, 99.0))
    );
}

/// Resident set size of a process, in MiB (from /proc).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
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
