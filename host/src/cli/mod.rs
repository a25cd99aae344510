//! The command line: subcommands and what each runs.

pub mod plugins;
pub mod scaffold;

use crate::config::Config;
use crate::temporal::worker::Queue;

/// order-host: an order lifecycle on Temporal whose business logic runs in sandboxed WebAssembly plugins.
#[derive(Debug, clap::Parser)]
#[command(name = "order-host", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Command,
}

/// What to run.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// REST API and both workers in one process (the all-in-one default).
    Serve,
    /// REST API only (no workers).
    Api,
    /// Workers only; run many, on many machines.
    Worker {
        /// Serve only this queue (default: both).
        #[arg(long, value_enum)]
        queue: Option<Queue>,
    },
    /// Apply the database migrations to `DATABASE_URL` and exit.
    Migrate,
    /// Check the money and lifecycle invariants over the database and Temporal; exit 1 on any violation.
    Audit,
    /// Inspect and check plugin components.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
}

impl Command {
    /// The queues a worker-running command serves.
    pub fn queues(&self) -> Vec<Queue> {
        match self {
            Command::Worker { queue: Some(q) } => vec![*q],
            _ => vec![Queue::Orders, Queue::Shipping],
        }
    }
}
