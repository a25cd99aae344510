//! The command line: subcommands and what each runs.

pub mod plugins;

use crate::config::Config;

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
    /// Inspect and check plugin components.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
}
