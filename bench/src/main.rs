//! `order-bench`: drives orders through a running order-host and reports what it measured.
//!
//! - `chaos`: starts orders through the Temporal client (as the `temporal` CLI or another SDK would), approves each at
//!   once, waits for the end of each and prints the distribution of start→end times and the share that shipped within
//!   the budget (15 s by default). Run it against a host with `FAILURE_SIMULATION=trellis`.

mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use order_host::domain::{Address, Item, OrderInput, OrderOptions, OrderState};
use order_host::workflows::OrderWorkflow;
use order_host::workflows::messages::to_raw;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowGetResultOptions, WorkflowSignalOptions,
    WorkflowStartOptions,
};

#[derive(Debug, Parser)]
#[command(name = "order-bench", about)]
enum Command {
    /// Orders through Temporal with everything approved at once; prints the latency distribution and the share that
    /// shipped within the budget.
    Chaos(ChaosArgs),
}

#[derive(Debug, clap::Args)]
struct ChaosArgs {
    /// How many orders.
    #[arg(long, default_value_t = 200)]
    orders: usize,
    /// How many in flight at once.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// The budget an order must ship within.
    #[arg(long, default_value = "15s", value_parser = humantime_parse)]
    budget: Duration,
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "http://127.0.0.1:7233")]
    temporal_address: String,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    namespace: String,
    #[arg(long, env = "ORDERS_TASK_QUEUE", default_value = "orders")]
    queue: String,
}

fn humantime_parse(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a duration like 15s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        other => Err(format!("unknown unit {other:?}")),
    }
}

/// How one order ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: Option<OrderState>,
    pub elapsed: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Command::parse() {
        Command::Chaos(args) => chaos(args).await,
    }
}

async fn connect(address: &str, namespace: &str) -> anyhow::Result<Client> {
    let connection =
        Connection::connect(ConnectionOptions::new(address.parse::<temporalio_client::Url>()?).build()).await?;
    Ok(Client::new(connection, ClientOptions::new(namespace.to_owned()).build())?)
}

fn order(id: &str) -> OrderInput {
    OrderInput {
        order_id: id.to_owned(),
        payment_id: format!("pay-{id}"),
        items: vec![
            Item { sku: "SKU-001".into(), quantity: 2, unit_price_cents: 1500 },
            Item { sku: "SKU-002".into(), quantity: 1, unit_price_cents: 1200 },
        ],
        address: Address {
            street: "123 Main St".into(),
            city: "Springfield".into(),
            state: "IL".into(),
            zip_code: "62701".into(),
        },
        options: OrderOptions::default(),
    }
}

async fn chaos(args: ChaosArgs) -> anyhow::Result<()> {
    let client = Arc::new(connect(&args.temporal_address, &args.namespace).await?);
    let run = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    println!(
        "chaos: {} orders, {} in flight, queue {}, budget {:?} (run {run})",
        args.orders, args.concurrency, args.queue, args.budget
    );
    let started = Instant::now();
    let outcomes: Vec<Outcome> = futures::stream::iter(0..args.orders)
        .map(|i| {
            let client = Arc::clone(&client);
            let id = format!("chaos-{run}-{i:04}");
            let queue = args.queue.clone();
            async move { one_order(&client, &queue, &id).await }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
    report::chaos(&outcomes, args.budget, wall);
    Ok(())
}

async fn one_order(client: &Client, queue: &str, id: &str) -> Outcome {
    let started = Instant::now();
    let options = WorkflowStartOptions::new(queue, id).build();
    let handle = match client.start_workflow(OrderWorkflow::run, order(id), options).await {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("{id}: start failed: {e}");
            return Outcome { state: None, elapsed: started.elapsed() };
        }
    };
    if let Err(e) =
        handle.signal(OrderWorkflow::approve_order, to_raw::<()>(None), WorkflowSignalOptions::default()).await
    {
        eprintln!("{id}: approve failed: {e}");
    }
    let state = match handle.get_result(WorkflowGetResultOptions::default()).await {
        Ok(doc) => Some(doc.state),
        Err(_) => Some(OrderState::Failed),
    };
    Outcome { state, elapsed: started.elapsed() }
}
