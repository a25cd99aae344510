//! Driving orders: through the REST API (the product) or straight through Temporal (the floor).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use order_host::domain::{OrderInput, OrderState};
use order_host::workflows::OrderWorkflow;
use order_host::workflows::messages::to_raw;
use temporalio_client::{
    Client, ClientOptions, ConnectionOptions, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions,
    WorkflowStartOptions,
};
use temporalio_sdk::workflows::WorkflowImplementation;

use crate::report::{self, Outcome, Run};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The order-host REST API.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub api: String,
    #[arg(long, default_value_t = 500)]
    pub orders: usize,
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Orders per side run first and not measured.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
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

pub async fn connect(address: &str, namespace: &str) -> anyhow::Result<Client> {
    let url = order_host::temporal::frontend_url(address, false)?;
    let connection = order_host::temporal::connect_patiently(ConnectionOptions::new(url).build()).await?;
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
    let _ = http.post(format!("{api}/orders/{id}/signals/approve")).send().await;
    let state = result(client, id).await;
    Outcome { state, elapsed: started.elapsed() }
}

/// One order straight through Temporal on the floor's queue: start, approve (update), wait for the end.
pub async fn floor_order(client: &Client, queue: &str, id: &str) -> Outcome {
    let started = Instant::now();
    let options = WorkflowStartOptions::new(queue, id).build();
    let Ok(handle) = client.start_workflow(OrderWorkflow::run, to_raw(Some(&sample(id))), options).await else {
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
    let prefix = format!("{name}_sum");
    text.lines().filter(|l| l.starts_with(&prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

/// Total time the order's (and its shipping children's) activities took as Temporal saw it: from each activity's
/// scheduling to its completion, retries included.
pub async fn activity_latency(client: &Client, id: &str) -> Duration {
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
    type ShippingRun = <order_host::workflows::ShippingWorkflow as WorkflowImplementation>::Run;

    let mut histories = Vec::new();
    let order = client.get_workflow_handle::<OrderRun>(id.to_owned());
    histories.push(order.fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default()).into_events().await);
    for n in 1..=3 {
        let child = client.get_workflow_handle::<ShippingRun>(format!("{id}-shipping-{n}"));
        match child.fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default()).into_events().await {
            Ok(events) => histories.push(Ok(events)),
            Err(_) => break,
        }
    }
    let mut total = Duration::ZERO;
    for events in histories.into_iter().flatten() {
        let mut scheduled = std::collections::HashMap::new();
        for e in &events {
            let Some(t) = e.event_time.as_ref() else { continue };
            let at = Duration::new(u64::try_from(t.seconds).unwrap_or(0), u32::try_from(t.nanos).unwrap_or(0));
            let closed = match &e.attributes {
                Some(Attributes::ActivityTaskScheduledEventAttributes(_)) => {
                    scheduled.insert(e.event_id, at);
                    None
                }
                Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => Some(a.scheduled_event_id),
                Some(Attributes::ActivityTaskFailedEventAttributes(a)) => Some(a.scheduled_event_id),
                Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => Some(a.scheduled_event_id),
                Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => Some(a.scheduled_event_id),
                _ => None,
            };
            if let Some(start) = closed.and_then(|id| scheduled.get(&id)) {
                total += at.saturating_sub(*start);
            }
        }
    }
    total
}

pub async fn load(args: LoadArgs) -> anyhow::Result<()> {
    let client = Arc::new(connect(&args.temporal_address, &args.namespace).await?);
    let http = reqwest::Client::new();
    let run = run_id();
    println!(
        "load: {} orders, {} in flight, API {}, Temporal {} (run {run})",
        args.orders, args.concurrency, args.api, args.temporal_address
    );

    let product = |prefix: &'static str| {
        let (client, http, api, run) = (Arc::clone(&client), http.clone(), args.api.clone(), run.clone());
        move |i: usize| {
            let (client, http, api, id) =
                (Arc::clone(&client), http.clone(), api.clone(), format!("{prefix}-{run}-{i:05}"));
            async move { rest_order(&http, &api, &client, &id).await }
        }
    };
    batch(args.warmup, args.concurrency, product("warm")).await;
    let before = http.get(format!("{}/metrics", args.api)).send().await?.text().await?;
    let ours = batch(args.orders, args.concurrency, product("bench")).await;
    let after = http.get(format!("{}/metrics", args.api)).send().await?.text().await?;
    let plugin_s =
        metric_sum(&after, "order_host_plugin_call_seconds") - metric_sum(&before, "order_host_plugin_call_seconds");
    let activity_s =
        metric_sum(&after, "order_host_activity_seconds") - metric_sum(&before, "order_host_activity_seconds");
    let latency_s: f64 = futures::stream::iter(0..args.orders)
        .map(|i| {
            let (client, id) = (Arc::clone(&client), format!("bench-{run}-{i:05}"));
            async move { activity_latency(&client, &id).await.as_secs_f64() }
        })
        .buffer_unordered(20)
        .collect::<Vec<f64>>()
        .await
        .iter()
        .sum();

    let floor = if args.no_floor {
        None
    } else {
        let (orders_q, shipping_q) = (format!("floor-orders-{run}"), format!("floor-shipping-{run}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let workers = crate::floor::run_workers((*client).clone(), &orders_q, &shipping_q, async {
            let _ = stopped.await;
        });
        let driver = async {
            let one = |prefix: &'static str| {
                let (client, queue, run) = (Arc::clone(&client), orders_q.clone(), run.clone());
                move |i: usize| {
                    let (client, queue, id) = (Arc::clone(&client), queue.clone(), format!("{prefix}-{run}-{i:05}"));
                    async move { floor_order(&client, &queue, &id).await }
                }
            };
            batch(args.warmup, args.concurrency, one("floor-warm")).await;
            let floor = batch(args.orders, args.concurrency, one("floor")).await;
            let _ = stop.send(());
            floor
        };
        let (workers, floor) = tokio::join!(workers, driver);
        workers?;
        Some(floor)
    };
    report::load(
        &ours,
        floor.as_ref(),
        report::ActivityTime { plugin_s, worker_s: activity_s, temporal_s: latency_s },
        args.budget,
    );
    Ok(())
}
