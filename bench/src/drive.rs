//! Driving orders: through the REST API (the product) or straight through Temporal (the floor).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use order_host::domain::{OrderInput, OrderState};
use order_host::workflows::OrderWorkflow;
use order_host::workflows::messages::{start_input, to_raw};
use temporalio_client::{
    Client, ClientOptions, ConnectionOptions, GrpcCompression, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions,
    WorkflowStartOptions,
};
use temporalio_sdk::workflows::WorkflowImplementation;

use crate::report::{self, Outcome, Run};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The order-host REST API.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub api: String,
    /// Orders per side and round at each level (at most 50 per order in flight: 50 at 1 in flight).
    #[arg(long, default_value_t = 500)]
    pub orders: usize,
    /// Orders in flight, one level or several (`1,20,50`); the summary line is the last level's.
    #[arg(long, value_delimiter = ',', default_value = "50")]
    pub concurrency: Vec<usize>,
    /// Compression of the host side's and the same-shape floor's messages to Temporal, as order-host's (the seed's
    /// side keeps the client library's default, gzip).
    #[arg(long, env = "TEMPORAL_GRPC_COMPRESSION", value_enum, default_value = "none")]
    pub grpc_compression: order_host::temporal::Compression,
    /// The order-host process whose CPU time is read from /proc (the `serve` process).
    #[arg(long)]
    pub host_pid: Option<u32>,
    /// The Temporal server process whose CPU time is read from /proc around each batch.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The Temporal server's Prometheus endpoint (`temporal server start-dev --metrics-port`), whose database calls are
    /// read around each batch.
    #[arg(long)]
    pub server_metrics: Option<String>,
    /// Status reads per second over running and finished orders while a batch of orders runs (0: skip).
    #[arg(long, default_value_t = 200)]
    pub status_rate: u32,
    /// Orders per side run first and not measured (in a level's first round).
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Rounds per level: each runs every side's batch once, the sides taking turns at going first; a side's figures
    /// are its rounds' together (1 under `--no-floor`).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Report the share of orders shipped within this budget.
    #[arg(long, default_value = "15s", value_parser = crate::parse_duration)]
    pub budget: Duration,
    /// Skip the floor (e.g. under chaos, where a ratio means nothing).
    #[arg(long)]
    pub no_floor: bool,
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "http://127.0.0.1:7233")]
    pub temporal_address: String,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub namespace: String,
}

pub type OrderRun = <OrderWorkflow as WorkflowImplementation>::Run;

/// A client of `address` with order-host's default connection settings.
pub async fn connect(address: &str, namespace: &str) -> anyhow::Result<Client> {
    connect_with(address, namespace, order_host::temporal::Compression::default().grpc()).await
}

/// A client of `address`, its messages compressed as `compression` says (order-host's setting, or the client library's
/// default for the seed's side: gzip).
pub async fn connect_with(address: &str, namespace: &str, compression: GrpcCompression) -> anyhow::Result<Client> {
    let url = order_host::temporal::frontend_url(address, false)?;
    let options = ConnectionOptions::new(url).grpc_compression(compression).build();
    let connection = order_host::temporal::connect_patiently(options).await?;
    Ok(Client::new(connection, ClientOptions::new(namespace.to_owned()).build())?)
}

/// A unique prefix for this run's order ids.
pub fn run_id() -> String {
    format!("{:06x}", rand::random::<u32>() & 0xff_ffff)
}

/// The seed's sample cart, as the API's default and the floor's input.
pub fn sample(id: &str) -> OrderInput {
    OrderInput {
        order_id: id.to_owned(),
        payment_id: format!("pay-{id}"),
        items: order_host::domain::sample::items(),
        address: order_host::domain::sample::address(),
        options: order_host::domain::OrderOptions::default(),
    }
}

/// Waits for an order's workflow to close and says how it ended.
pub async fn result(client: &Client, id: &str) -> Option<OrderState> {
    let handle = client.get_workflow_handle::<OrderRun>(id.to_owned());
    match handle.get_result(WorkflowGetResultOptions::default()).await {
        Ok(doc) => Some(doc.state),
        Err(_) => Some(OrderState::Failed),
    }
}

/// One order through the REST API: start with the seed's body, approve at once, wait for the end.
pub async fn rest_order(http: &reqwest::Client, api: &str, client: &Client, id: &str) -> Outcome {
    rest_order_then(http, api, client, id, || {}).await
}

/// [`rest_order`], calling `started_hook` once the start was answered.
pub async fn rest_order_then(
    http: &reqwest::Client,
    api: &str,
    client: &Client,
    id: &str,
    started_hook: impl FnOnce(),
) -> Outcome {
    let started = Instant::now();
    let start = http
        .post(format!("{api}/orders/{id}/start"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"payment_id":"pay-{id}"}}"#))
        .send()
        .await;
    if !start.is_ok_and(|r| r.status().as_u16() == 202) {
        return Outcome { state: None, elapsed: started.elapsed() };
    }
    started_hook();
    let _ = http.post(format!("{api}/orders/{id}/signals/approve")).send().await;
    let state = result(client, id).await;
    Outcome { state, elapsed: started.elapsed() }
}

/// One order straight through Temporal on the floor's queue: start, approve (update), wait for the end.
pub async fn floor_order(client: &Client, queue: &str, id: &str) -> Outcome {
    let started = Instant::now();
    let options = WorkflowStartOptions::new(queue, id).build();
    let Ok(handle) = client.start_workflow(OrderWorkflow::run, start_input(&sample(id)), options).await else {
        return Outcome { state: None, elapsed: started.elapsed() };
    };
    let _ = handle
        .execute_update(
            OrderWorkflow::approve_order_update,
            to_raw::<()>(None),
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    let state = result(client, id).await;
    Outcome { state, elapsed: started.elapsed() }
}

/// Runs `n` orders `concurrency` at a time and times the whole batch.
pub async fn batch<F, Fut>(n: usize, concurrency: usize, one: F) -> Run
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let started = Instant::now();
    let outcomes = futures::stream::iter(0..n).map(one).buffer_unordered(concurrency).collect().await;
    Run { outcomes, wall: started.elapsed() }
}

/// Sum of a Prometheus histogram's `_sum` series in a scrape.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    let series = format!("{name}_sum");
    report::samples(text).filter(|(n, _, _)| *n == series).map(|(_, _, value)| value).sum()
}

pub async fn load(args: LoadArgs) -> anyhow::Result<()> {
    // Each side's calls to Temporal go through its own stack's client: order-host's setting for the host and the
    // same-shape floor, the client library's defaults for the seed's shape.
    let client = Arc::new(connect_with(&args.temporal_address, &args.namespace, args.grpc_compression.grpc()).await?);
    let plain = Arc::new(connect_with(&args.temporal_address, &args.namespace, GrpcCompression::default()).await?);
    let http = reqwest::Client::new();
    let run = run_id();
    let floors = if args.no_floor { None } else { Some(Floors::start(&args, &run)?) };
    // Without floors there is nothing to take turns with.
    let rounds = if floors.is_some() { args.rounds.max(1) } else { 1 };
    println!(
        "load: {} orders per side and round, {rounds} round(s), {:?} in flight, API {}, Temporal {} (run {run})",
        args.orders, args.concurrency, args.api, args.temporal_address
    );
    let kinds: &[SideKind] = if floors.is_some() { &SideKind::ALL } else { &SideKind::ALL[..1] };
    let metrics = args.server_metrics.clone().map(|url| report::MetricsEndpoint { http: http.clone(), url });
    let server = report::Server { pid: args.server_pid, metrics };

    let mut levels = Vec::new();
    for (n, &concurrency) in args.concurrency.iter().enumerate() {
        let orders = args.orders.min(50 * concurrency.max(1));
        let level = format!("{run}-c{concurrency}");
        let (mut host, mut same, mut seed) = (Vec::new(), Vec::new(), Vec::new());
        let mut time = report::ActivityTime::default();
        for round in 0..rounds {
            // Round 0's ids are the level's own (`bench-<run>-c50-00000`); later rounds add `r<n>`.
            let tag = if round == 0 { level.clone() } else { format!("{level}r{round}") };
            let sizes = (if round == 0 { args.warmup } else { 0 }, orders, concurrency);
            for k in 0..kinds.len() {
                match kinds[(round + k) % kinds.len()] {
                    SideKind::Host => {
                        let (side, spent) = host_side(&args, &client, &http, &tag, sizes, &server).await?;
                        time += spent;
                        host.push(side);
                    }
                    SideKind::Same => {
                        if let Some(floors) = &floors {
                            same.push(floors.same_batch(&client, &tag, sizes, &server).await);
                        }
                    }
                    SideKind::Seed => {
                        if let Some(floors) = &floors {
                            seed.push(floors.seed_batch(&plain, &tag, sizes, &server).await);
                        }
                    }
                }
            }
        }
        let by_round = |floor: &[report::Side]| -> Vec<f64> {
            host.iter().zip(floor).map(|(h, f)| report::ratio(h.run.per_second(), f.run.per_second())).collect()
        };
        let round_ratios = (by_round(&same), by_round(&seed));
        let mut level_report = report::Level {
            concurrency,
            host: report::Side::combine(host),
            same: (!same.is_empty()).then(|| report::Side::combine(same)),
            seed: (!seed.is_empty()).then(|| report::Side::combine(seed)),
            time,
            round_trips: Vec::new(),
            round_ratios,
        };
        if floors.is_some() && n == 0 {
            level_report.round_trips = vec![
                ("host", round_trips(&client, &format!("bench-{level}-00000"), "-shipping-1").await),
                ("same-shape floor", round_trips(&client, &format!("floor-{level}-00000"), "-shipping-1").await),
                ("seed-shaped floor", round_trips(&client, &format!("seed-{level}-00000"), "-shipping").await),
            ];
        }
        report::level(&level_report, args.budget);
        levels.push(level_report);
    }
    let status = if args.status_rate > 0 {
        Some(crate::status::under_load(&client, &http, &args.api, &run, args.status_rate).await)
    } else {
        None
    };
    if let Some(floors) = floors {
        floors.stop().await;
    }
    report::summary(&levels, status.as_ref());
    Ok(())
}

/// The sides of a level, in the order its first round runs them; each later round starts one side further on, so that
/// every side runs first, second and last in turn (the server's state grows through a run and the machine's speed
/// drifts: a side always run last would always meet the fullest server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SideKind {
    Host,
    Same,
    Seed,
}

impl SideKind {
    const ALL: [SideKind; 3] = [SideKind::Host, SideKind::Same, SideKind::Seed];
}

/// One round of the host's side: `warmup` orders not measured, then `orders` through the REST API with the host's and
/// the server's CPU time read around them, and where the host's activity time went (its `/metrics`).
async fn host_side(
    args: &LoadArgs,
    client: &Arc<Client>,
    http: &reqwest::Client,
    tag: &str,
    (warmup, orders, concurrency): Sizes,
    server: &report::Server,
) -> anyhow::Result<(report::Side, report::ActivityTime)> {
    let product = |prefix: &'static str| {
        let (client, http, api, tag) = (Arc::clone(client), http.clone(), args.api.clone(), tag.to_owned());
        move |i: usize| {
            let (client, http, api, id) =
                (Arc::clone(&client), http.clone(), api.clone(), format!("{prefix}-{tag}-{i:05}"));
            async move { rest_order(&http, &api, &client, &id).await }
        }
    };
    report::settle("the host").await;
    batch(warmup, concurrency, product("warm")).await;
    let metrics = format!("{}/metrics", args.api);
    let before = http.get(&metrics).send().await?.text().await?;
    let clocks = report::Clocks::start(args.host_pid, server).await;
    let side = clocks.side(batch(orders, concurrency, product("bench")).await, orders).await;
    let after = http.get(&metrics).send().await?.text().await?;
    let spent = |name: &str| metric_sum(&after, name) - metric_sum(&before, name);
    let time = report::ActivityTime {
        plugin_s: spent("order_host_plugin_call_seconds"),
        worker_s: spent("order_host_activity_seconds"),
    };
    Ok((side, time))
}

/// A level's batch sizes: orders run first and not measured, orders measured, orders in flight.
type Sizes = (usize, usize, usize);

/// One floor's side: `warmup` orders named `prefixes.0`, then `orders` named `prefixes.1` with the CPU time of the
/// floor's worker process and of the server read around them.
async fn floor_side<F, Fut>(
    one: impl Fn(&'static str) -> F,
    prefixes: (&'static str, &'static str),
    (warmup, orders, concurrency): Sizes,
    worker_pid: Option<u32>,
    server: &report::Server,
) -> report::Side
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = report::Outcome>,
{
    report::settle(prefixes.1).await;
    batch(warmup, concurrency, one(prefixes.0)).await;
    let clocks = report::Clocks::start(worker_pid, server).await;
    clocks.side(batch(orders, concurrency, one(prefixes.1)).await, orders).await
}

/// The two floors' worker processes, each on queues of its own.
struct Floors {
    same: crate::floor::FloorProcess,
    seed: crate::floor::FloorProcess,
    same_queue: String,
    seed_queues: (String, String),
}

impl Floors {
    fn start(args: &LoadArgs, run: &str) -> anyhow::Result<Self> {
        use crate::floor::{FloorProcess, Kind};
        let same_queues = (format!("floor-orders-{run}"), format!("floor-shipping-{run}"));
        let seed_queues = (format!("seed-orders-{run}"), format!("seed-shipping-{run}"));
        let (address, namespace) = (&args.temporal_address, &args.namespace);
        Ok(Floors {
            same: FloorProcess::spawn(Kind::Same, &same_queues.0, &same_queues.1, address, namespace)?,
            seed: FloorProcess::spawn(Kind::Seed, &seed_queues.0, &seed_queues.1, address, namespace)?,
            same_queue: same_queues.0,
            seed_queues,
        })
    }

    /// The same-shape floor's side of a level.
    async fn same_batch(
        &self,
        client: &Arc<Client>,
        level: &str,
        sizes: Sizes,
        server: &report::Server,
    ) -> report::Side {
        let one = |prefix: &'static str| {
            let (client, queue, level) = (Arc::clone(client), self.same_queue.clone(), level.to_owned());
            move |i: usize| {
                let (client, queue, id) = (Arc::clone(&client), queue.clone(), format!("{prefix}-{level}-{i:05}"));
                async move { floor_order(&client, &queue, &id).await }
            }
        };
        floor_side(one, ("floor-warm", "floor"), sizes, self.same.pid(), server).await
    }

    /// The seed-shaped floor's side of a level.
    async fn seed_batch(
        &self,
        client: &Arc<Client>,
        level: &str,
        sizes: Sizes,
        server: &report::Server,
    ) -> report::Side {
        let one = |prefix: &'static str| {
            let (client, queues, level) = (Arc::clone(client), self.seed_queues.clone(), level.to_owned());
            move |i: usize| {
                let (client, queues, id) = (Arc::clone(&client), queues.clone(), format!("{prefix}-{level}-{i:05}"));
                async move { crate::seed::order(&client, &queues.0, &queues.1, &id).await }
            }
        };
        floor_side(one, ("seed-warm", "seed"), sizes, self.seed.pid(), server).await
    }

    async fn stop(self) {
        tokio::join!(self.same.stop(), self.seed.stop());
    }
}

/// What one order cost the server, counted from its history and its shipping child's: workflow tasks, activity
/// tasks (each a poll and a completion by a worker) and history events.
pub async fn round_trips(client: &Client, id: &str, child_suffix: &str) -> report::RoundTrips {
    use temporalio_common::protos::temporal::api::enums::v1::EventType;
    let mut counted = report::RoundTrips::default();
    for workflow_id in [id.to_owned(), format!("{id}{child_suffix}")] {
        let handle = client.get_workflow_handle::<OrderRun>(workflow_id);
        let Ok(events) =
            handle.fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default()).into_events().await
        else {
            continue;
        };
        counted.events += events.len();
        for e in &events {
            match e.event_type() {
                EventType::WorkflowTaskCompleted => counted.workflow_tasks += 1,
                EventType::ActivityTaskStarted => counted.activity_tasks += 1,
                _ => {}
            }
        }
    }
    counted
}
