//! Crash test: orders run while the worker process is killed (`SIGKILL`) and restarted (and, optionally, PostgreSQL is
//! restarted); afterwards every order must have ended, no payment may have been taken twice, and no order may be both
//! refunded and shipped.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use order_host::domain::{OrderState, PaymentState};
use order_host::workflows::OrderWorkflow;
use order_host::workflows::messages::{start_input, to_raw};
use rand::Rng;
use temporalio_client::{WorkflowSignalOptions, WorkflowStartOptions};
use tokio::process::{Child, Command};

use crate::drive::{connect, result, run_id, sample};

#[derive(Debug, clap::Args)]
pub struct CrashArgs {
    /// The order-host binary to run as the worker.
    #[arg(long)]
    pub order_host: PathBuf,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    #[arg(long, default_value = "plugins/dist")]
    pub plugins_dir: PathBuf,
    #[arg(long, default_value_t = 100)]
    pub orders: usize,
    /// How many times the worker is killed.
    #[arg(long, default_value_t = 5)]
    pub kills: usize,
    /// A shell command that restarts PostgreSQL, run once half-way through the kills.
    #[arg(long)]
    pub restart_postgres: Option<String>,
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "http://127.0.0.1:7233")]
    pub temporal_address: String,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub namespace: String,
}

/// How to start an `order-host worker` process (again, after a kill).
pub struct Worker {
    pub args: Vec<(String, String)>,
    pub binary: PathBuf,
    pub log: PathBuf,
}

impl Worker {
    pub fn spawn(&self) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        Ok(Command::new(&self.binary)
            .arg("worker")
            .envs(self.args.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?)
    }
}

pub async fn run(args: CrashArgs) -> anyhow::Result<()> {
    let run = run_id();
    let data = tempfile_dir(&run)?;
    let orders_queue = format!("crash-orders-{run}");
    let worker = Worker {
        args: vec![
            ("DATABASE_URL".into(), args.database_url.clone()),
            ("TEMPORAL_ADDRESS".into(), args.temporal_address.clone()),
            ("TEMPORAL_NAMESPACE".into(), args.namespace.clone()),
            ("PLUGINS_DIR".into(), args.plugins_dir.display().to_string()),
            ("DATA_DIR".into(), data.display().to_string()),
            ("ORDERS_TASK_QUEUE".into(), orders_queue.clone()),
            ("SHIPPING_TASK_QUEUE".into(), format!("crash-shipping-{run}")),
            ("RUST_LOG".into(), "warn".into()),
        ],
        binary: args.order_host.clone(),
        log: data.join("worker.log"),
    };
    println!(
        "crash: {} orders, worker killed {} times{} (run {run}, worker log {})",
        args.orders,
        args.kills,
        if args.restart_postgres.is_some() { ", PostgreSQL restarted once" } else { "" },
        worker.log.display()
    );
    let child = worker.spawn()?;
    let client = Arc::new(connect(&args.temporal_address, &args.namespace).await?);
    let ids: Vec<String> = (0..args.orders).map(|i| format!("crash-{run}-{i:04}")).collect();
    let started = Instant::now();

    let orders = tokio::spawn(start_orders(Arc::clone(&client), ids.clone(), orders_queue));
    let mut child = kill_and_restart(&worker, child, &args, started).await?;
    orders.await?;

    let ends: Vec<(String, Option<OrderState>)> = futures::stream::iter(ids)
        .map(|id| {
            let client = Arc::clone(&client);
            async move {
                let state = tokio::time::timeout(Duration::from_mins(5), result(&client, &id)).await.ok().flatten();
                (id, state)
            }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    let _ = child.start_kill();
    let elapsed = started.elapsed();
    let (states, violations) = verify(&args.database_url, &ends).await?;
    println!("end states: {states:?} after {:.1} s", elapsed.as_secs_f64());
    for v in &violations {
        println!("  VIOLATION {v}");
    }
    println!(
        "crash_orders={} kills={} postgres_restarted={} ended={} violations={}",
        args.orders,
        args.kills,
        args.restart_postgres.is_some(),
        ends.iter().filter(|(_, s)| s.is_some()).count(),
        violations.len()
    );
    if violations.is_empty() { Ok(()) } else { Err(anyhow::anyhow!("{} invariant violations", violations.len())) }
}

/// Starts and approves every order, 20 at a time.
pub async fn start_orders(client: Arc<temporalio_client::Client>, ids: Vec<String>, queue: String) {
    futures::stream::iter(ids)
        .for_each_concurrent(20, |id| {
            let (client, queue) = (Arc::clone(&client), queue.clone());
            async move {
                let options = WorkflowStartOptions::new(queue, id.clone()).build();
                // Half as the REST API starts them (this revision of the lifecycle, no patch marker), half as the
                // `temporal` CLI does (with its marker): runs of both are replayed by the workers that take over.
                let input = if id.ends_with(['0', '2', '4', '6', '8']) {
                    start_input(&sample(&id))
                } else {
                    to_raw(Some(&sample(&id)))
                };
                if let Ok(h) = client.start_workflow(OrderWorkflow::run, input, options).await {
                    let approve = to_raw::<()>(None);
                    let _ = h.signal(OrderWorkflow::approve_order, approve, WorkflowSignalOptions::default()).await;
                }
            }
        })
        .await;
}

/// Kills the worker at random moments and starts a new one each time; restarts PostgreSQL half-way if asked.
async fn kill_and_restart(
    worker: &Worker,
    mut child: Child,
    args: &CrashArgs,
    started: Instant,
) -> anyhow::Result<Child> {
    for k in 0..args.kills {
        let pause = Duration::from_millis(rand::rng().random_range(300..1500));
        tokio::time::sleep(pause).await;
        child.start_kill()?;
        let _ = child.wait().await;
        println!(
            "  kill {}/{} after {:.1} s (SIGKILL); restarting the worker",
            k + 1,
            args.kills,
            started.elapsed().as_secs_f64()
        );
        if k == args.kills / 2
            && let Some(cmd) = &args.restart_postgres
        {
            let status = std::process::Command::new("sh").arg("-c").arg(cmd).status()?;
            println!("  PostgreSQL restarted ({status})");
        }
        child = worker.spawn()?;
    }
    Ok(child)
}

/// Checks the invariants in the database: every order ended, at most one payment taken per order (exactly one for
/// an order that got as far as the charge), never both refunded and shipped.
async fn verify(
    database_url: &str,
    ends: &[(String, Option<OrderState>)],
) -> anyhow::Result<(std::collections::BTreeMap<String, usize>, Vec<String>)> {
    let store = order_host::store::connect(database_url).await?;
    let mut states = std::collections::BTreeMap::<String, usize>::new();
    let mut violations = Vec::new();
    for (id, workflow_end) in ends {
        let Some(row) = store.get_order(id).await? else {
            violations.push(format!("{id}: no order row"));
            continue;
        };
        *states.entry(row.state.to_string()).or_default() += 1;
        if workflow_end.is_none() || !row.state.is_terminal() {
            violations.push(format!("{id}: did not end (workflow {workflow_end:?}, row {})", row.state));
        }
        let payments = store.payments_for_order(id).await?;
        let taken =
            payments.iter().filter(|p| matches!(p.status, PaymentState::Charged | PaymentState::Refunded)).count();
        if taken > 1 {
            violations.push(format!("{id}: {taken} payments taken"));
        }
        if [OrderState::Charged, OrderState::Shipping, OrderState::Shipped].contains(&row.state) && taken != 1 {
            violations.push(format!("{id}: {} but {taken} payments taken", row.state));
        }
        if row.state == OrderState::Shipped && payments.iter().any(|p| p.status == PaymentState::Refunded) {
            violations.push(format!("{id}: both refunded and shipped"));
        }
    }
    Ok((states, violations))
}

fn tempfile_dir(run: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("order-bench-crash-{run}"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
