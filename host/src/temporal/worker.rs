//! The workers: `OrderWorkflow` and its activities on the orders queue, `ShippingWorkflow` and its activities on
//! the shipping queue. `Worker::run` is not `Send`, so workers run joined on the calling task.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use temporalio_client::Client;
use temporalio_common::telemetry::metrics::CoreMeter;
use temporalio_common::telemetry::{PrometheusExporterOptions, TelemetryOptions, start_prometheus_metric_exporter};
use temporalio_sdk::runtime::{PollerBehavior, RuntimeOptions};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

use crate::activities::{ActivityDeps, OrderActivities, ShippingActivities};
use crate::metrics::{Metrics, TEMPORAL_PREFIX};
use crate::workflows::{OrderWorkflow, ShippingWorkflow};

/// Which queues this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Queue {
    Orders,
    Shipping,
}

/// The task queue names.
#[derive(Debug, Clone)]
pub struct QueueNames {
    pub orders: String,
    pub shipping: String,
}

/// Heartbeats carry cancellations to running activities: flush them quickly so a hung attempt learns of its
/// cancellation within a fraction of a second.
pub const HEARTBEAT_FLUSH: Duration = Duration::from_millis(200);

/// Workflow-task polls a worker keeps open, and the share of them on its queue's normal (not sticky) side. The SDK's
/// default, 5 polls of which a fifth normal, leaves one poll to pick up every new workflow on the queue: under load
/// (50 orders in flight) a new shipping child waited seconds for it. Order-host's workers take their steps inside
/// workflow tasks (local activities), so workflow-task polls are nearly all they do.
pub const WORKFLOW_TASK_POLLS: usize = 10;
pub const NORMAL_POLL_SHARE: f32 = 0.5;

/// `options` with the settings every order-host worker runs with (and the bench's same-shape floor, so that it
/// measures the same workers): quick heartbeat flushes, [`WORKFLOW_TASK_POLLS`] polls, a drain period.
pub fn tuned(mut options: WorkerOptions) -> WorkerOptions {
    options.max_heartbeat_throttle_interval = HEARTBEAT_FLUSH;
    options.default_heartbeat_throttle_interval = HEARTBEAT_FLUSH;
    options.workflow_task_poller_behavior = Some(PollerBehavior::SimpleMaximum(WORKFLOW_TASK_POLLS));
    options.nonsticky_to_sticky_poll_ratio = NORMAL_POLL_SHARE;
    options.graceful_shutdown_period = Some(Duration::from_secs(5));
    options
}

/// Builds the workers for `queues` and runs them until `shutdown` resolves, then drains them.
pub async fn run(
    client: Client,
    deps: ActivityDeps,
    names: &QueueNames,
    queues: &[Queue],
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    if queues.contains(&Queue::Orders) {
        super::search::ensure_order_state(&client).await?;
    }
    let runtime = Runtime::from_current_tokio(runtime_options(&deps.metrics)?)?;
    let mut workers = Vec::new();
    for queue in queues {
        let options = match queue {
            Queue::Orders => tuned(
                WorkerOptions::new(names.orders.clone())
                    .register_workflow::<OrderWorkflow>()?
                    .register_activities(OrderActivities::new(deps.clone()))
                    .build(),
            ),
            Queue::Shipping => tuned(
                WorkerOptions::new(names.shipping.clone())
                    .register_workflow::<ShippingWorkflow>()?
                    .register_activities(ShippingActivities::new(deps.clone()))
                    .build(),
            ),
        };
        workers.push(Worker::new(&runtime, client.clone(), options)?);
    }
    let stops: Vec<_> = workers.iter().map(Worker::shutdown_handle).collect();
    tracing::info!(queues = ?queues, orders = %names.orders, shipping = %names.shipping, "workers polling");
    let mut all = std::pin::pin!(futures::future::join_all(workers.iter_mut().map(Worker::run)));
    let mut shutdown = std::pin::pin!(shutdown);
    let results = tokio::select! {
        results = &mut all => results,
        () = &mut shutdown => {
            tracing::info!("shutting down workers");
            for stop in &stops {
                stop();
            }
            all.await
        }
    };
    for result in results {
        result?;
    }
    Ok(())
}

/// Temporal's worker metrics (task latencies, slots, sticky cache, polls) under [`TEMPORAL_PREFIX`]: the SDK exports
/// them from its own registry on a loopback port, which `/metrics` reads and serves beside ours.
fn runtime_options(metrics: &Metrics) -> anyhow::Result<RuntimeOptions> {
    let exporter = start_prometheus_metric_exporter(
        PrometheusExporterOptions::builder()
            .socket_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
            .counters_total_suffix(true)
            .use_seconds_for_durations(true)
            .build(),
    )?;
    metrics.set_temporal_exporter(exporter.bound_addr);
    let meter: Arc<dyn CoreMeter> = exporter.meter;
    let telemetry = TelemetryOptions::builder().metrics(meter).metric_prefix(TEMPORAL_PREFIX.to_owned()).build();
    RuntimeOptions::builder().telemetry_options(telemetry).build().map_err(anyhow::Error::msg)
}
