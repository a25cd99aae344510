//! `order-bench`: measures a running order-host and proves it robust.
//!
//! - `load`: at each level of orders in flight, N orders through the REST API (start, approve at once, wait for the
//!   end), then the same N through two floors on the same server, each served by a `floor-worker` process of its
//!   own: the same-shape floor (the same workflows with no-op activities, no plugins, no database, no HTTP) and the
//!   seed-shaped floor (the seed's lifecycle written plainly, [`seed`]); prints orders/s, latency percentiles, worker
//!   CPU per order, server round trips per order and the ratios; then status reads at a fixed rate while orders run.
//! - `crash`: SIGKILLs and restarts an `order-host worker` while orders run (and optionally restarts PostgreSQL), then
//!   checks that every order ended, that no order was charged twice and that none was both refunded and shipped.
//! - `hostile`: uploads every hostile fixture while orders run, then a valid v2; no order may fail because of it.
//! - `memory`: the host's resident memory idle and with many orders waiting for approval.
//! - `converge`: worker processes on one database follow a series of plugin publishes while orders run; prints the
//!   p99 time until every process runs the new version.
//!
//! `scripts/bench.sh` starts what these need; see BENCHMARKS.md.

mod converge;
mod crash;
mod drive;
mod floor;
mod hostile;
mod memory;
mod report;
mod seed;
mod status;

use std::time::Duration;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "order-bench", about)]
enum Command {
    /// Throughput and latency against Temporal's floor.
    Load(drive::LoadArgs),
    /// Worker (and database) crashes while orders run.
    Crash(crash::CrashArgs),
    /// Hostile plugin uploads while orders run.
    Hostile(hostile::HostileArgs),
    /// Resident memory idle and with orders waiting.
    Memory(memory::MemoryArgs),
    /// Plugin publishes reaching every worker process while orders run.
    Converge(converge::ConvergeArgs),
    /// One floor's workers (same-shape or seed-shaped), run by `load` as a process of its own.
    FloorWorker(floor::WorkerArgs),
}

/// Parses `15s`, `500ms`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a duration like 15s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        other => Err(format!("unknown unit {other:?}")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Command::parse() {
        Command::Load(args) => drive::load(args).await,
        Command::Crash(args) => crash::run(args).await,
        Command::Hostile(args) => hostile::run(args).await,
        Command::Memory(args) => memory::run(args).await,
        Command::Converge(args) => converge::run(args).await,
        Command::FloorWorker(args) => floor::serve(args).await,
    }
}
