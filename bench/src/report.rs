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
#[derive(Debug, Clone, Copy, Default)]
pub struct ActivityTime {
    /// Inside plugin calls (fresh instance + call).
    pub plugin_s: f64,
    /// Activity attempts running in the worker (failure simulation, plugin, database, event).
    pub worker_s: f64,
}

impl std::ops::AddAssign for ActivityTime {
    fn add_assign(&mut self, other: ActivityTime) {
        self.plugin_s += other.plugin_s;
        self.worker_s += other.worker_s;
    }
}

/// What one order cost the server (see [`crate::drive::round_trips`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundTrips {
    pub workflow_tasks: usize,
    pub activity_tasks: usize,
    pub events: usize,
}

/// One side of a level: its batch, its worker's CPU time per order and the Temporal server's; the load generator's
/// own (this process: starts, approvals, waits for the results) and the whole machine's, every process on it.
#[derive(Debug, Clone)]
pub struct Side {
    pub run: Run,
    pub cpu_ms_per_order: Option<f64>,
    pub server_cpu_ms_per_order: Option<f64>,
    pub client_cpu_ms_per_order: Option<f64>,
    pub machine_cpu_ms_per_order: Option<f64>,
    /// The server's database calls during the batch (when its metrics were given).
    pub persistence: Option<Persistence>,
}

impl Side {
    /// A side's rounds taken as one batch: their orders together, their walls added (orders/s is all their orders
    /// over all their time), CPU per order averaged over all their orders.
    pub fn combine(rounds: Vec<Side>) -> Side {
        let weights: Vec<f64> = rounds.iter().map(|r| r.run.outcomes.len() as f64).collect();
        let total = weights.iter().sum::<f64>().max(1.0);
        let mean = |per_order: fn(&Side) -> Option<f64>| -> Option<f64> {
            let summed: Option<f64> = rounds.iter().zip(&weights).map(|(r, w)| per_order(r).map(|v| v * w)).sum();
            summed.map(|s| s / total)
        };
        Side {
            cpu_ms_per_order: mean(|s| s.cpu_ms_per_order),
            server_cpu_ms_per_order: mean(|s| s.server_cpu_ms_per_order),
            client_cpu_ms_per_order: mean(|s| s.client_cpu_ms_per_order),
            machine_cpu_ms_per_order: mean(|s| s.machine_cpu_ms_per_order),
            persistence: rounds.iter().map(|r| r.persistence.clone()).sum(),
            run: Run {
                wall: rounds.iter().map(|r| r.run.wall).sum(),
                outcomes: rounds.into_iter().flat_map(|r| r.run.outcomes).collect(),
            },
        }
    }
}

/// The Temporal server as the bench watches it: its process (CPU time) and its Prometheus endpoint (`temporal server
/// start-dev --metrics-port`), each when known.
#[derive(Debug, Clone)]
pub struct Server {
    pub pid: Option<u32>,
    pub metrics: Option<MetricsEndpoint>,
}

/// A Prometheus endpoint and the client that reads it.
#[derive(Debug, Clone)]
pub struct MetricsEndpoint {
    pub http: reqwest::Client,
    pub url: String,
}

impl Server {
    /// The server's database calls so far, or `None` without its metrics or when they cannot be read within a few
    /// seconds (the side's report then leaves them out and says so).
    async fn persistence(&self) -> Option<Persistence> {
        let MetricsEndpoint { http, url } = self.metrics.as_ref()?;
        let read = async { http.get(url).send().await?.error_for_status()?.text().await };
        match tokio::time::timeout(Duration::from_secs(5), read).await {
            Ok(Ok(text)) => Some(Persistence::parse(&text)),
            Ok(Err(e)) => {
                println!("  the server's metrics at {url} could not be read: {e}");
                None
            }
            Err(_) => {
                println!("  the server's metrics at {url} did not answer within 5 s");
                None
            }
        }
    }
}

/// The server's calls to its database (every operation of `persistence_latency` and `visibility_persistence_latency`):
/// how many, and their times summed. The summed time over a batch's wall time is the calls in progress on average
/// (Little's law): above 1, calls overlapped or waited. On `start-dev` they wait for one another: it keeps history,
/// task queues and visibility records in one SQLite database, which Temporal's SQLite plugin opens with one
/// connection unless configured otherwise (`start-dev` has no setting for it), so a call's time includes its wait for
/// that connection, and also the Go scheduler's when the cores are busy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Persistence {
    pub calls: f64,
    pub seconds: f64,
    /// Of those, the visibility records' (workflow started, closed, search attributes upserted).
    pub visibility_calls: f64,
    pub visibility_seconds: f64,
    /// Calls by operation (`UpdateWorkflowExecution`, `RecordWorkflowExecutionClosed`, …).
    pub by_operation: BTreeMap<String, f64>,
}

impl Persistence {
    /// Totals from a Prometheus text exposition.
    pub fn parse(text: &str) -> Self {
        let mut total = Persistence::default();
        for (name, labels, value) in samples(text) {
            let count_call = |total: &mut Persistence| {
                total.calls += value;
                *total.by_operation.entry(label(labels, "operation").unwrap_or("?").to_owned()).or_default() += value;
            };
            match name {
                "persistence_latency_count" => count_call(&mut total),
                "persistence_latency_sum" => total.seconds += value,
                "visibility_persistence_latency_count" => {
                    count_call(&mut total);
                    total.visibility_calls += value;
                }
                "visibility_persistence_latency_sum" => {
                    total.seconds += value;
                    total.visibility_seconds += value;
                }
                _ => {}
            }
        }
        total
    }

    fn since(&self, before: &Persistence) -> Persistence {
        self.zip(before, |now, then| now - then)
    }

    fn zip(&self, other: &Persistence, f: impl Fn(f64, f64) -> f64) -> Persistence {
        let operations = self.by_operation.keys().chain(other.by_operation.keys());
        let of = |p: &Persistence, op: &str| p.by_operation.get(op).copied().unwrap_or(0.0);
        Persistence {
            calls: f(self.calls, other.calls),
            seconds: f(self.seconds, other.seconds),
            visibility_calls: f(self.visibility_calls, other.visibility_calls),
            visibility_seconds: f(self.visibility_seconds, other.visibility_seconds),
            by_operation: operations.map(|op| (op.clone(), f(of(self, op), of(other, op)))).collect(),
        }
    }
}

/// The samples of a Prometheus text exposition: each series' name, its labels (`a="x",b="y"`, without the braces)
/// and its value. Comments and lines that are not a sample are skipped.
pub fn samples(text: &str) -> impl Iterator<Item = (&str, &str, f64)> {
    text.lines().filter_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let value = value.parse::<f64>().ok()?;
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        Some((name, labels.trim_end_matches('}'), value))
    })
}

/// The value of label `name` in a series' labels (`a="x",operation="y"`).
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| pair.strip_prefix(name)?.strip_prefix("=\"")?.split('"').next())
}

impl std::iter::Sum for Persistence {
    fn sum<I: Iterator<Item = Persistence>>(iter: I) -> Self {
        iter.fold(Persistence::default(), |a, b| a.zip(&b, |x, y| x + y))
    }
}

/// The CPU clocks (and the server's database calls) read around one side's batch.
#[derive(Debug)]
pub struct Clocks {
    worker: CpuClock,
    server: CpuClock,
    client: CpuClock,
    machine: Option<Duration>,
    /// The server watched, and its database calls when the clocks started.
    watched: Server,
    persistence: Option<Persistence>,
}

impl Clocks {
    pub async fn start(worker_pid: Option<u32>, server: &Server) -> Self {
        // The server's metrics are read before the clocks start and after they stop (in `side`), so that the server's
        // CPU time for answering the reads is not counted.
        Clocks {
            persistence: server.persistence().await,
            worker: CpuClock::start(worker_pid),
            server: CpuClock::start(server.pid),
            client: CpuClock::start(Some(std::process::id())),
            machine: machine_busy(),
            watched: server.clone(),
        }
    }

    /// The side of `run`, its `orders` orders having finished.
    pub async fn side(&self, run: Run, orders: usize) -> Side {
        let machine = machine_busy().zip(self.machine).and_then(|(now, then)| now.checked_sub(then));
        let (worker, server_cpu, client) =
            (self.worker.per_order(orders), self.server.per_order(orders), self.client.per_order(orders));
        let now = self.watched.persistence().await;
        let persistence = now.zip(self.persistence.as_ref()).map(|(now, then)| now.since(then));
        Side {
            run,
            cpu_ms_per_order: worker,
            server_cpu_ms_per_order: server_cpu,
            client_cpu_ms_per_order: client,
            machine_cpu_ms_per_order: machine.map(|spent| ms(spent) / orders.max(1) as f64),
            persistence,
        }
    }
}

/// Waits, polling the machine's CPU with a deadline, until what ran before has finished: [`QUIET_WINDOWS`] half-second
/// windows in a row in which the whole machine was busy less than [`QUIET_CORES`]. The dev server keeps working for
/// ~10 s after a batch's last result (read from a per-second sample of every process), so without this a side's
/// clocks would also count the tail of the side before it. Prints how long it waited.
pub async fn settle(label: &str) {
    const WINDOW: Duration = Duration::from_millis(500);
    const DEADLINE: Duration = Duration::from_secs(30);
    let started = std::time::Instant::now();
    let mut quiet = 0;
    let mut busy_cores = f64::NAN;
    while quiet < QUIET_WINDOWS && started.elapsed() < DEADLINE {
        let Some(before) = machine_busy() else { return };
        tokio::time::sleep(WINDOW).await;
        let Some(after) = machine_busy() else { return };
        busy_cores = after.saturating_sub(before).as_secs_f64() / WINDOW.as_secs_f64();
        quiet = if busy_cores < QUIET_CORES { quiet + 1 } else { 0 };
    }
    let verdict = if quiet < QUIET_WINDOWS { "not quiet within the deadline" } else { "quiet" };
    println!("  before {label}: {verdict} after {:.1} s ({busy_cores:.2} cores busy)", started.elapsed().as_secs_f64());
}

/// The machine's busy share under which [`settle`] calls it quiet: an idle dev server, workers and this machine's
/// other services take ~0.05 cores.
pub const QUIET_CORES: f64 = 0.15;

/// Quiet windows in a row that [`settle`] waits for: one could fall in a lull of the server's tail.
pub const QUIET_WINDOWS: u32 = 2;

/// CPU time every core of the machine spent busy (not idle, not waiting for I/O), from `/proc/stat`'s first line.
fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).map_while(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is counted in user already)
    let busy = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| ticks.get(i)).sum::<u64>();
    Some(Duration::from_millis(busy * 10))
}

/// One concurrency level: the host and, side by side on the same server, the two floors.
#[derive(Debug, Clone)]
pub struct Level {
    pub concurrency: usize,
    pub host: Side,
    pub same: Option<Side>,
    pub seed: Option<Side>,
    pub time: ActivityTime,
    pub round_trips: Vec<(&'static str, RoundTrips)>,
    /// The host's orders/s over each floor's, round by round: (same-shape floor, seed-shaped floor).
    pub round_ratios: (Vec<f64>, Vec<f64>),
}

/// Status reads under load.
#[derive(Debug, Clone)]
pub struct StatusLoad {
    pub rate: u32,
    pub latencies: Vec<Duration>,
    pub not_modified: usize,
    pub errors: usize,
    pub orders: Run,
    /// Reads by where the host took the document from (its `order_host_status_reads_total`).
    pub sources: std::collections::BTreeMap<&'static str, f64>,
}

/// A process's CPU time (user + system) from `/proc/<pid>/stat`, read around a batch.
#[derive(Debug)]
pub struct CpuClock {
    pid: Option<u32>,
    start: Option<Duration>,
}

impl CpuClock {
    pub fn start(pid: Option<u32>) -> Self {
        CpuClock { pid, start: pid.and_then(cpu_time) }
    }

    /// CPU milliseconds the process spent since [`CpuClock::start`], per order.
    pub fn per_order(&self, orders: usize) -> Option<f64> {
        let spent = self.pid.and_then(cpu_time)?.checked_sub(self.start?)?;
        Some(ms(spent) / orders.max(1) as f64)
    }
}

/// User + system CPU time of a process. The kernel counts in clock ticks, which are 100 per second on Linux
/// (`USER_HZ`, fixed by its ABI whatever the kernel's own tick rate).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (u64, u64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    Some(Duration::from_millis((utime + stime) * 10))
}

fn side_line(label: &str, side: &Side) {
    line(label, &side.run);
    let ms = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.2} ms"));
    println!(
        "{:<6} {:>8} worker CPU per order, {} Temporal server CPU per order, {} load generator, {} the whole machine",
        "",
        ms(side.cpu_ms_per_order),
        ms(side.server_cpu_ms_per_order),
        ms(side.client_cpu_ms_per_order),
        ms(side.machine_cpu_ms_per_order)
    );
    if let Some(p) = &side.persistence {
        let orders = side.run.outcomes.len().max(1) as f64;
        println!(
            "{:<6} {:>8.1} server database calls per order ({:.1} of them visibility records), {:.1} ms their summed \
             time per order ({:.1} ms the visibility records'), {:.0} calls per second, {:.2} calls in progress on \
             average (summed time over wall time)",
            "",
            p.calls / orders,
            p.visibility_calls / orders,
            p.seconds * 1e3 / orders,
            p.visibility_seconds * 1e3 / orders,
            ratio(p.calls, side.run.wall.as_secs_f64()),
            ratio(p.seconds, side.run.wall.as_secs_f64())
        );
        let mut operations: Vec<(&String, &f64)> = p.by_operation.iter().filter(|(_, n)| **n / orders >= 0.5).collect();
        operations.sort_by(|a, b| b.1.total_cmp(a.1));
        let operations: Vec<String> = operations.iter().map(|(op, n)| format!("{op} {:.1}", **n / orders)).collect();
        println!("{:<6} {:>8} per order by operation: {}", "", "", operations.join(", "));
    }
}

/// `a / b`, 0 when `b` is not positive.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// One level's report.
pub fn level(level: &Level, budget: Duration) {
    let shipped = level.host.run.shipped();
    println!("\n{} in flight — start→shipped through the REST API, {} orders:", level.concurrency, shipped.len());
    histogram(&shipped);
    side_line("host", &level.host);
    if let Some(same) = &level.same {
        side_line("same", same);
    }
    if let Some(seed) = &level.seed {
        side_line("seed", seed);
        let p50 = |s: &Side| ms(percentile(&s.run.shipped(), 50.0));
        println!(
            "host / seed-shaped floor: {:.2}× orders/s, {:.2}× p50 latency, {:.2}× worker CPU per order, {:.2}× the \
             machine's CPU per order",
            ratio(level.host.run.per_second(), seed.run.per_second()),
            ratio(p50(&level.host), p50(seed)),
            ratio(level.host.cpu_ms_per_order.unwrap_or(0.0), seed.cpu_ms_per_order.unwrap_or(0.0)),
            ratio(level.host.machine_cpu_ms_per_order.unwrap_or(0.0), seed.machine_cpu_ms_per_order.unwrap_or(0.0)),
        );
    }
    let (same, seed) = &level.round_ratios;
    if seed.len() > 1 {
        let listed = |ratios: &[f64]| ratios.iter().map(|r| format!("{r:.2}×")).collect::<Vec<_>>().join(", ");
        println!(
            "round by round (host, same-shape floor, seed shape going first in turn): {} the seed-shaped floor's \
             orders/s, {} the same-shape floor's",
            listed(seed),
            listed(same)
        );
    }
    for (label, trips) in &level.round_trips {
        println!(
            "one order ({label}): {} workflow tasks + {} activity tasks = {} server round trips, {} history events",
            trips.workflow_tasks,
            trips.activity_tasks,
            trips.workflow_tasks + trips.activity_tasks,
            trips.events
        );
    }
    let time = level.time;
    println!(
        "plugin calls: {:.3} s = {:.2} % of the {:.3} s activity attempts ran in the worker",
        time.plugin_s,
        100.0 * ratio(time.plugin_s, time.worker_s),
        time.worker_s
    );
    let within = shipped.iter().filter(|d| **d <= budget).count();
    let total = level.host.run.outcomes.len();
    println!(
        "shipped within {} s: {within}/{total} ({:.1} %, goal ≥ 99 % under chaos)",
        budget.as_secs(),
        100.0 * within as f64 / total.max(1) as f64
    );
}

/// The status-read figures.
pub fn status(load: &StatusLoad) {
    let mut sorted = load.latencies.clone();
    sorted.sort();
    println!(
        "\nstatus reads at {}/s over running and finished orders while {} orders ran ({:.1} orders/s): {} reads, \
         p50 {:.1} ms, p99 {:.1} ms, {} answered 304 Not Modified, {} errors",
        load.rate,
        load.orders.outcomes.len(),
        load.orders.per_second(),
        sorted.len(),
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 99.0)),
        load.not_modified,
        load.errors
    );
    let sources: Vec<String> = load.sources.iter().map(|(source, n)| format!("{source} {n:.0}")).collect();
    println!("status documents by source: {}", sources.join(", "));
}

/// The machine-readable summary (DESIGN.md): the last level's figures, the seed-shaped floor's, and status reads.
pub fn summary(levels: &[Level], status_load: Option<&StatusLoad>) {
    if let Some(load) = status_load {
        status(load);
    }
    let Some(last) = levels.last() else { return };
    let shipped = last.host.run.shipped();
    let rate = |side: Option<&Side>| side.map_or(0.0, |s| s.run.per_second());
    let host_rate = last.host.run.per_second();
    let status_p99 = status_load.map_or(0.0, |l| {
        let mut sorted = l.latencies.clone();
        sorted.sort();
        ms(percentile(&sorted, 99.0))
    });
    println!(
        "orders_per_s={:.1} floor_orders_per_s={:.1} ratio={:.2} p50_ms={:.0} p99_ms={:.0} \
         seed_floor_orders_per_s={:.1} seed_ratio={:.2} cpu_ms_per_order={:.2} seed_cpu_ms_per_order={:.2} \
         server_cpu_ms_per_order={:.2} seed_server_cpu_ms_per_order={:.2} status_p99_ms={:.1}",
        host_rate,
        rate(last.same.as_ref()),
        ratio(host_rate, rate(last.same.as_ref())),
        ms(percentile(&shipped, 50.0)),
        ms(percentile(&shipped, 99.0)),
        rate(last.seed.as_ref()),
        ratio(host_rate, rate(last.seed.as_ref())),
        last.host.cpu_ms_per_order.unwrap_or(0.0),
        last.seed.as_ref().and_then(|s| s.cpu_ms_per_order).unwrap_or(0.0),
        last.host.server_cpu_ms_per_order.unwrap_or(0.0),
        last.seed.as_ref().and_then(|s| s.server_cpu_ms_per_order).unwrap_or(0.0),
        status_p99
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

    fn side(orders: usize, wall_ms: u64, cpu: Option<f64>) -> Side {
        let outcome = Outcome { state: Some(OrderState::Shipped), elapsed: Duration::from_millis(10) };
        Side {
            run: Run { outcomes: vec![outcome; orders], wall: Duration::from_millis(wall_ms) },
            cpu_ms_per_order: cpu,
            server_cpu_ms_per_order: Some(50.0),
            client_cpu_ms_per_order: None,
            machine_cpu_ms_per_order: cpu.map(|c| c + 50.0),
            persistence: Some(Persistence {
                calls: orders as f64 * 60.0,
                seconds: wall_ms as f64 / 1e3,
                ..Persistence::default()
            }),
        }
    }

    #[test]
    fn rounds_combine_as_one_batch() {
        let combined = Side::combine(vec![side(100, 10_000, Some(10.0)), side(300, 10_000, Some(20.0))]);
        assert_eq!(combined.run.outcomes.len(), 400);
        assert_eq!(combined.run.wall, Duration::from_secs(20));
        assert!((combined.run.per_second() - 20.0).abs() < 1e-9);
        // Weighted by orders: (100 × 10 + 300 × 20) / 400.
        assert!((combined.cpu_ms_per_order.unwrap() - 17.5).abs() < 1e-9);
        assert!((combined.machine_cpu_ms_per_order.unwrap() - 67.5).abs() < 1e-9);
        assert_eq!(combined.client_cpu_ms_per_order, None);
        // A round whose clock could not be read leaves the figure unknown rather than averaged over fewer orders.
        let partial = Side::combine(vec![side(100, 1_000, Some(10.0)), side(100, 1_000, None)]);
        assert_eq!(partial.cpu_ms_per_order, None);
        // Database calls add up over the rounds.
        assert_eq!(
            combined.persistence,
            Some(Persistence { calls: 24_000.0, seconds: 20.0, ..Persistence::default() })
        );
    }

    #[test]
    fn persistence_totals_every_operation_of_the_server() {
        let text = "# HELP persistence_latency Persistence latency\n\
            # TYPE persistence_latency histogram\n\
            persistence_latency_bucket{operation=\"GetNamespace\",le=\"0.001\"} 3\n\
            persistence_latency_sum{operation=\"GetNamespace\",service_name=\"history\"} 0.5\n\
            persistence_latency_count{xoperation=\"Other\",operation=\"GetNamespace\",service_name=\"history\"} 4\n\
            persistence_latency_sum{operation=\"UpdateWorkflowExecution\",service_name=\"history\"} 1.25\n\
            persistence_latency_count{operation=\"UpdateWorkflowExecution\",service_name=\"history\"} 6\n\
            persistence_requests{operation=\"GetNamespace\"} 99\n\
            persistence_latency_summary_sum 1000\n\
            visibility_persistence_latency_sum{operation=\"RecordWorkflowExecutionClosed\"} 0.25\n\
            visibility_persistence_latency_count{operation=\"RecordWorkflowExecutionClosed\"} 2\n\
            task_processing_no_persistence_latency_count{operation=\"VisibilityTaskCloseExecution\"} 7\n\
            task_processing_no_persistence_latency_sum{operation=\"VisibilityTaskCloseExecution\"} 3\n";
        let read = Persistence::parse(text);
        let totals = |p: &Persistence| (p.calls, p.seconds, p.visibility_calls, p.visibility_seconds);
        assert_eq!(totals(&read), (12.0, 2.0, 2.0, 0.25));
        let by_operation = |p: &Persistence| p.by_operation.clone().into_iter().collect::<Vec<_>>();
        let ops = |a: f64, b: f64, c: f64| {
            vec![
                ("GetNamespace".to_owned(), a),
                ("RecordWorkflowExecutionClosed".to_owned(), b),
                ("UpdateWorkflowExecution".to_owned(), c),
            ]
        };
        assert_eq!(by_operation(&read), ops(4.0, 2.0, 6.0));
        let mut later =
            Persistence { calls: 25.0, seconds: 2.5, visibility_calls: 3.0, visibility_seconds: 0.5, ..read.clone() };
        later.by_operation.insert("UpdateWorkflowExecution".to_owned(), 10.0);
        let spent = later.since(&read);
        assert_eq!(totals(&spent), (13.0, 0.5, 1.0, 0.25));
        assert_eq!(by_operation(&spent), ops(0.0, 0.0, 4.0));
    }

    #[test]
    fn percentiles() {
        let d: Vec<_> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 50.0), Duration::from_millis(51));
        assert_eq!(percentile(&d, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
