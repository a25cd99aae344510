//! Temporal's floors, each run by an `order-bench floor-worker` process of its own. The same-shape floor: the very same
//! `OrderWorkflow` and `ShippingWorkflow` code, registered with activities of the same names that do nothing (no
//! plugins, no database) — what an order costs with order-host's work removed. The seed-shaped floor: [`crate::seed`].

#![allow(missing_debug_implementations, dead_code, clippy::unused_async)] // the #[activities] macro generates marker types and consts; activities must be async

use std::sync::Arc;
use std::time::Duration;

use order_host::activities::payloads::{
    ChargeInput, Charged, ClaimInput, Claimed, DispatchInput, Dispatched, PackageInfo, Packed, PrepareInput, Received,
    RecordStateInput, RefundInput, Refunded, ShipInput, Shipped, ValidateInput, Validated,
};
use order_host::domain::{OrderInput, PluginRun, TimeoutAction};
use order_host::temporal::worker::tuned;
use order_host::workflows::{OrderWorkflow, ShippingWorkflow};
use temporalio_client::Client;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// Activities with order-host's names and payloads that return at once.
pub struct NoopActivities {
    pub shipping_queue: String,
}

fn noop_plugin() -> PluginRun {
    PluginRun { name: "noop".into(), version: "0".into(), digest: "sha256:noop".into() }
}

#[activities]
impl NoopActivities {
    #[activity(name = "receive_order")]
    pub async fn receive_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        _input: OrderInput,
    ) -> Result<Received, ActivityError> {
        Ok(Received {
            settings: order_host::activities::payloads::OrderSettings {
                approval_timeout_ms: 10_000,
                approval_timeout_action: TimeoutAction::Cancel,
                max_shipping_attempts: 3,
                shipping_task_queue: self.shipping_queue.clone(),
                activity_timeout_ms: 300,
            },
            created: true,
            attempt: ctx.info().attempt,
        })
    }

    #[activity(name = "validate_order")]
    pub async fn validate_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ValidateInput,
    ) -> Result<Validated, ActivityError> {
        let total_cents = input.order.total_cents();
        Ok(Validated { order: input.order, total_cents, plugin: noop_plugin(), attempt: ctx.info().attempt })
    }

    #[activity(name = "charge_payment")]
    pub async fn charge_payment(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ChargeInput,
    ) -> Result<Charged, ActivityError> {
        Ok(Charged {
            transaction_id: format!("noop-{}", input.payment_id),
            amount_cents: input.amount_cents,
            plugin: Some(noop_plugin()),
            attempt: ctx.info().attempt,
        })
    }

    #[activity(name = "refund_payment")]
    pub async fn refund_payment(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RefundInput,
    ) -> Result<Refunded, ActivityError> {
        Ok(Refunded { refund_id: format!("noop-{}", input.payment_id), plugin: None, attempt: ctx.info().attempt })
    }

    #[activity(name = "record_state")]
    pub async fn record_state(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _input: RecordStateInput,
    ) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "prepare_package")]
    pub async fn prepare_package(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PrepareInput,
    ) -> Result<Packed, ActivityError> {
        Ok(Packed {
            package: PackageInfo {
                package_id: format!("pkg-{}", input.order.order_id),
                weight_grams: 1000,
                box_size: "small".into(),
                units: 3,
            },
            plugin: noop_plugin(),
            attempt: ctx.info().attempt,
        })
    }

    #[activity(name = "dispatch_carrier")]
    pub async fn dispatch_carrier(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: DispatchInput,
    ) -> Result<Dispatched, ActivityError> {
        Ok(Dispatched {
            carrier: "noop".into(),
            tracking: format!("noop-{}", input.order.order_id),
            eta_days: 1,
            plugin: noop_plugin(),
            attempt: ctx.info().attempt,
            package: None,
        })
    }

    #[activity(name = "claim_shipment")]
    pub async fn claim_shipment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ClaimInput,
    ) -> Result<Claimed, ActivityError> {
        Ok(Claimed { stop: input.stop, address: input.address, package: input.package })
    }

    #[activity(name = "ship_order")]
    pub async fn ship_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        _input: ShipInput,
    ) -> Result<Shipped, ActivityError> {
        Ok(Shipped { attempt: ctx.info().attempt })
    }
}

/// The same-shape floor's worker options for its two queues: the same settings as order-host's workers.
pub fn worker_options(orders_queue: &str, shipping_queue: &str) -> anyhow::Result<[WorkerOptions; 2]> {
    let activities = || NoopActivities { shipping_queue: shipping_queue.to_owned() };
    Ok([
        tuned(
            WorkerOptions::new(orders_queue.to_owned())
                .register_workflow::<OrderWorkflow>()?
                .register_activities(activities())
                .build(),
        ),
        tuned(
            WorkerOptions::new(shipping_queue.to_owned())
                .register_workflow::<ShippingWorkflow>()?
                .register_activities(activities())
                .build(),
        ),
    ])
}

/// Which floor a `floor-worker` process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// order-host's own workflows with no-op activities.
    Same,
    /// The seed's shape written plainly ([`crate::seed`]).
    Seed,
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// The same-shape floor's compression, as order-host's (`TEMPORAL_GRPC_COMPRESSION`, inherited).
    #[arg(long, env = "TEMPORAL_GRPC_COMPRESSION", value_enum, default_value = "none")]
    pub grpc_compression: order_host::temporal::Compression,
    #[arg(long)]
    pub orders_queue: String,
    #[arg(long)]
    pub shipping_queue: String,
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "http://127.0.0.1:7233")]
    pub temporal_address: String,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub namespace: String,
}

/// `order-bench floor-worker`: one floor's workers in a process of their own (so that its CPU time can be read from
/// `/proc`, apart from the load generator's), until its stdin closes.
pub async fn serve(args: WorkerArgs) -> anyhow::Result<()> {
    // The same shape runs on order-host's connection settings, the seed's on the client library's defaults.
    let compression = match args.kind {
        Kind::Same => args.grpc_compression.grpc(),
        Kind::Seed => temporalio_client::GrpcCompression::default(),
    };
    let client = crate::drive::connect_with(&args.temporal_address, &args.namespace, compression).await?;
    let options = match args.kind {
        Kind::Same => {
            // The same workflow as order-host's writes the OrderState search attribute, which the namespace must define.
            order_host::temporal::search::ensure_order_state(&client).await?;
            worker_options(&args.orders_queue, &args.shipping_queue)?
        }
        Kind::Seed => crate::seed::worker_options(&args.orders_queue, &args.shipping_queue)?,
    };
    // The parent keeps our stdin open for as long as we should run.
    run_workers(client, options, async {
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut sink).await;
    })
    .await
}

/// Runs workers with `options` until `stop` resolves, then drains them.
async fn run_workers(
    client: Client,
    options: impl IntoIterator<Item = WorkerOptions>,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(RuntimeOptions::default())?;
    let mut workers = Vec::new();
    for o in options {
        workers.push(Worker::new(&runtime, client.clone(), o)?);
    }
    let stops: Vec<_> = workers.iter().map(Worker::shutdown_handle).collect();
    let mut all = std::pin::pin!(futures::future::join_all(workers.iter_mut().map(Worker::run)));
    let mut stop = std::pin::pin!(stop);
    let results = tokio::select! {
        results = &mut all => results,
        () = &mut stop => {
            for s in &stops {
                s();
            }
            all.await
        }
    };
    for r in results {
        r?;
    }
    Ok(())
}

/// A `floor-worker` child process: it runs while we hold its stdin, and is killed if dropped.
pub struct FloorProcess {
    child: tokio::process::Child,
}

impl FloorProcess {
    /// Starts `order-bench floor-worker` for `kind` on the given queues.
    pub fn spawn(
        kind: Kind,
        orders_queue: &str,
        shipping_queue: &str,
        address: &str,
        namespace: &str,
    ) -> anyhow::Result<Self> {
        let kind = match kind {
            Kind::Same => "same",
            Kind::Seed => "seed",
        };
        let child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["floor-worker", "--kind", kind, "--orders-queue", orders_queue, "--shipping-queue", shipping_queue])
            .args(["--temporal-address", address, "--namespace", namespace])
            .stdin(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        Ok(FloorProcess { child })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Closes its stdin, so the workers drain and the process ends, and waits for that.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await;
    }
}
