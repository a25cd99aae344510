//! The `order-host` binary: parse the command line, set up logging, run the chosen subcommand.

use std::process::ExitCode;

use clap::Parser;
use order_host::cli::{Cli, Command};

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    order_host::telemetry::init();
    match &cli.command {
        Command::Plugins(command) => order_host::cli::plugins::run(&cli.config, command, &mut std::io::stdout().lock()),
    }
}
