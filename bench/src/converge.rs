//! Convergence: several `order-host worker` processes on one database, each with an empty plugins directory, and a
//! series of payment publishes (v2, v1, v2, …) made while orders run. For each publish: the time from the publish
//! call (which checks the component: load, compile, trial call) until every process reports running the new digest,
//! and the part of it after the release committed. Then: did every order end, and how many activity attempts failed
//! (a switch must cost none).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use order_host::plugins::{Digest, PluginRuntime, Registry, Slot};
use order_host::rollout::Rollout;

use crate::crash::{Worker, start_orders};
use crate::drive::{connect, result, run_id};
use crate::report::percentile;

#[derive(Debug, clap::Args)]
pub struct ConvergeArgs {
    /// The order-host binary to run as the workers.
    #[arg(long)]
    pub order_host: PathBuf,
    /// The shared database (PostgreSQL announces releases; SQLite is polled).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Where `payment.wasm`, `fixtures/payment-v2.wasm` and the other defaults are.
    #[arg(long, default_value = "plugins/dist")]
    pub dist: PathBuf,
    #[arg(long, default_value_t = 3)]
    pub processes: usize,
    #[arg(long, default_value_t = 20)]
    pub publishes: usize,
    /// Orders started (and approved) while the publishes run.
    #[arg(long, default_value_t = 100)]
    pub orders: usize,
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "http://127.0.0.1:7233")]
    pub temporal_address: String,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub namespace: String,
}

pub async fn run(args: ConvergeArgs) -> anyhow::Result<()> {
    let run = run_id();
    // Reports older than this run (an earlier run on the same database) do not count.
    let since = chrono::Utc::now();
    let work = std::env::temp_dir().join(format!("order-bench-converge-{run}"));
    let store = order_host::store::open(&args.database_url).await?;
    let config = <order_host::cli::Cli as clap::Parser>::try_parse_from(["order-host", "worker"])?.config;
    let runtime = PluginRuntime::new(config.runtime(false)).map_err(anyhow::Error::msg)?;
    let publisher = Rollout::publisher(Arc::clone(&store), Registry::new(runtime));
    let read = |name: &str| std::fs::read(args.dist.join(name));
    for slot in Slot::ALL {
        publisher.publish(slot, read(&slot.file_name())?, "bench", None).await?;
    }
    let versions = [read("fixtures/payment-v2.wasm")?, read("payment.wasm")?];

    let orders_queue = format!("converge-orders-{run}");
    let mut children = Vec::new();
    for i in 0..args.processes {
        let dir = work.join(format!("worker-{i}"));
        std::fs::create_dir_all(dir.join("plugins"))?;
        let worker = Worker {
            args: vec![
                ("DATABASE_URL".into(), args.database_url.clone()),
                ("TEMPORAL_ADDRESS".into(), args.temporal_address.clone()),
                ("TEMPORAL_NAMESPACE".into(), args.namespace.clone()),
                ("PLUGINS_DIR".into(), dir.join("plugins").display().to_string()),
                ("DATA_DIR".into(), dir.join("data").display().to_string()),
                ("ORDERS_TASK_QUEUE".into(), orders_queue.clone()),
                ("SHIPPING_TASK_QUEUE".into(), format!("converge-shipping-{run}")),
                ("RUST_LOG".into(), "warn".into()),
            ],
            binary: args.order_host.clone(),
            log: dir.join("worker.log"),
        };
        children.push(worker.spawn()?);
    }
    let payment = Digest::of(&read("payment.wasm")?).to_string();
    let first = wait_converged(&store, since, args.processes, &payment, Duration::from_mins(2)).await?;
    println!("converge: {} processes started and running payment v1 ({:.1} s)", args.processes, first.as_secs_f64());

    let client = Arc::new(connect(&args.temporal_address, &args.namespace).await?);
    let ids: Vec<String> = (0..args.orders).map(|i| format!("converge-{run}-{i:04}")).collect();
    let orders = tokio::spawn(start_orders(Arc::clone(&client), ids.clone(), orders_queue));

    let (mut times, mut after_commit) = (Vec::new(), Vec::new());
    for i in 0..args.publishes {
        let bytes = versions[i % 2].clone();
        let digest = Digest::of(&bytes).to_string();
        let started = Instant::now();
        publisher.publish(Slot::Payment, bytes, "bench", None).await?;
        let committed = started.elapsed();
        let converged =
            started.elapsed() + wait_converged(&store, since, args.processes, &digest, Duration::from_secs(30)).await?;
        println!(
            "  publish {:>2}: {} published in {:.0} ms, every process runs it after {:.0} ms",
            i + 1,
            &digest[..19],
            committed.as_secs_f64() * 1e3,
            converged.as_secs_f64() * 1e3
        );
        times.push(converged);
        after_commit.push(converged.saturating_sub(committed));
        // Orders keep running between publishes, as they would between real rollouts.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    orders.await?;

    let ends: Vec<_> = futures::stream::iter(ids.clone())
        .map(|id| {
            let client = Arc::clone(&client);
            async move { tokio::time::timeout(Duration::from_mins(3), result(&client, &id)).await.ok().flatten() }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    let mut failed_attempts = 0;
    for id in &ids {
        let events = store.events(id, 500).await?;
        failed_attempts += events
            .iter()
            .filter(|e| e.kind == "activity" && e.outcome.as_deref().is_some_and(|o| o != "completed"))
            .count();
    }
    for mut child in children {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    times.sort();
    after_commit.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "converge_processes={} publishes={} converge_p50_ms={:.0} converge_p99_ms={:.0} converge_max_ms={:.0} \
         after_commit_p50_ms={:.1} after_commit_p99_ms={:.1} orders={} ended={} failed_attempts={failed_attempts}",
        args.processes,
        times.len(),
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 99.0)),
        ms(*times.last().unwrap_or(&Duration::ZERO)),
        ms(percentile(&after_commit, 50.0)),
        ms(percentile(&after_commit, 99.0)),
        ids.len(),
        ends.iter().filter(|e| e.is_some()).count(),
    );
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// Waits until `processes` processes report running `digest` in the payment slot; how long that took.
async fn wait_converged(
    store: &Arc<dyn order_host::store::Store>,
    since: chrono::DateTime<chrono::Utc>,
    processes: usize,
    digest: &str,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let fleet = store.processes(since).await?;
        let running = fleet.iter().filter(|p| p.digests.get("payment").is_some_and(|d| d == digest)).count();
        if running >= processes {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "only {running} of {processes} processes run {digest} after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
