//! The `order-host` binary: parse the command line, set up logging, run the chosen subcommand.

use std::process::ExitCode;

use clap::Parser;
use order_host::app::{App, shutdown_signal};
use order_host::cli::{Cli, Command};

fn main() -> anyhow::Result<ExitCode> {
    if std::env::args_os().nth(1).is_some_and(|a| a == order_host::plugins::compile::CHILD_ARG) {
        let args: Vec<String> = std::env::args_os().skip(2).map(|a| a.to_string_lossy().into_owned()).collect();
        return Ok(order_host::plugins::compile::child_main(&args));
    }
    let mut cli = Cli::parse();
    order_host::telemetry::init();
    // Components are compiled by a child process running this binary, within PLUGIN_COMPILE_TIMEOUT/_MEMORY.
    // `/proc/self/exe` is the running binary itself even after an upgrade replaced or removed its file.
    let own = std::path::Path::new("/proc/self/exe");
    cli.config.plugin_compiler = if own.exists() { Some(own.to_path_buf()) } else { std::env::current_exe().ok() };
    if cli.config.plugin_compiler.is_none() {
        tracing::warn!("cannot find this binary's path: plugins compile in process, without a time or memory budget");
    }
    if let Command::Plugins(command) = &cli.command
        && !command.uses_store()
    {
        return order_host::cli::plugins::run(&cli.config, command, &mut std::io::stdout().lock());
    }
    let runtime = runtime(&cli.command)?;
    if let Command::Plugins(command) = &cli.command {
        let mut out = std::io::stdout().lock();
        return runtime.block_on(order_host::cli::plugins::run_shared(&cli.config, command, &mut out));
    }
    if let Command::Audit = &cli.command {
        return runtime.block_on(audit(&cli));
    }
    runtime.block_on(run(cli))?;
    Ok(ExitCode::SUCCESS)
}

/// The Tokio runtime. Temporal's workers are not `Send`: `serve` and `worker` run them on this, the main, thread
/// beside the runtime's own threads, so those get one core fewer than the machine has (at least one) — a thread per
/// core plus the main one would have more threads busy than cores, and switching between them costs (on two cores,
/// with the SQLite changes of the same commit, 9 % of the worker's CPU per order together; BENCHMARKS.md).
/// `TOKIO_WORKER_THREADS` still decides when set.
fn runtime(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if matches!(command, Command::Serve | Command::Worker { .. }) && std::env::var_os("TOKIO_WORKER_THREADS").is_none()
    {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        builder.worker_threads(cores.saturating_sub(1).max(1));
    }
    builder.enable_all().build()
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Migrate => {
            order_host::store::open(&cli.config.database_url).await?;
            tracing::info!(database = %redact(&cli.config.database_url), "migrations applied");
            Ok(())
        }
        Command::Worker { .. } => {
            let queues = cli.command.queues();
            let app = App::build(cli.config, "worker").await?;
            let Some(listener) = app.bind_metrics().await? else {
                let result = app.run_workers(&queues, shutdown_signal()).await;
                app.leave().await;
                return result;
            };
            tracing::info!(url = %format!("http://{}/metrics", listener.local_addr()?), "metrics listening");
            // The listener lives exactly as long as the workers: a signal stops both, and workers that end on their
            // own (an error) take the listener down with them, so a dead worker never looks healthy.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let ops = app.serve_ops(listener, wait_for(stopped.clone()));
            let workers = workers_until_signal(&app, &queues, &stop, stopped);
            let (ops, workers) = tokio::join!(ops, workers);
            app.leave().await;
            workers.and(ops)
        }
        Command::Api => {
            warn_unused_metrics_addr(&cli.config);
            let app = App::build(cli.config, "api").await?;
            let listener = app.bind().await?;
            tracing::info!(url = %format!("http://{}", listener.local_addr()?), "REST API listening");
            let result = app.serve_http(listener, shutdown_signal()).await;
            app.leave().await;
            result
        }
        Command::Serve => {
            warn_unused_metrics_addr(&cli.config);
            let app = App::build(cli.config, "serve").await?;
            let listener = app.bind().await?;
            tracing::info!(url = %format!("http://{}", listener.local_addr()?), "REST API listening");
            // One signal stops both: the API drains in its own task, the (non-Send) workers on this one. Workers that
            // end on their own (they could not start, or failed) stop the API too, so the process exits with their
            // error instead of taking orders that would never run.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let http = app.serve_http(listener, wait_for(stopped.clone()));
            let queues = cli.command.queues();
            let workers = workers_until_signal(&app, &queues, &stop, stopped);
            let (http, workers) = tokio::join!(http, workers);
            app.leave().await;
            workers.and(http)
        }
        Command::Plugins(_) | Command::Audit => unreachable!("handled before"),
    }
}

/// `order-host audit`: prints every violation (and every order a person was told about); exit 1 on a violation.
async fn audit(cli: &Cli) -> anyhow::Result<ExitCode> {
    let store = order_host::store::open(&cli.config.database_url).await?;
    let client = order_host::temporal::connect(&cli.config).await?;
    let namespace = temporalio_client::NamespacedClient::namespace(&client);
    let report = order_host::audit::run(store.as_ref(), &client, &namespace).await?;
    for (order_id, message) in &report.attention {
        println!("attention: order {order_id}: {message}");
    }
    for violation in &report.violations {
        println!("violation: {violation}");
    }
    println!(
        "audited {} orders: {} violation(s), {} needing attention",
        report.orders,
        report.violations.len(),
        report.attention.len()
    );
    Ok(if report.violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs the workers until a shutdown signal, and flips `stop` when they end, by the signal or on their own: whatever
/// serves HTTP beside them stops with them.
async fn workers_until_signal(
    app: &App,
    queues: &[order_host::temporal::worker::Queue],
    stop: &tokio::sync::watch::Sender<bool>,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let signal = async {
        shutdown_signal().await;
        let _ = stop.send(true);
        std::future::pending::<()>().await;
    };
    let result = tokio::select! {
        result = app.run_workers(queues, wait_for(stopped)) => result,
        () = signal => unreachable!("the signal branch never completes"),
    };
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "workers stopped; shutting down");
    }
    let _ = stop.send(true);
    result
}

/// `serve` and `api` answer `/metrics`, `/healthz` and `/readyz` on `HTTP_ADDR`; a `METRICS_ADDR` is for `worker`.
fn warn_unused_metrics_addr(config: &order_host::config::Config) {
    if let Some(addr) = &config.metrics_addr {
        tracing::warn!(%addr, "METRICS_ADDR is ignored here: this command serves /metrics on HTTP_ADDR");
    }
}

/// Resolves when the watch flips to `true`.
async fn wait_for(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
