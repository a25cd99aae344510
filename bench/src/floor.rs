//! Temporal's own floor: the very same `OrderWorkflow` and `ShippingWorkflow` code, registered with activities of
//! the same names that do nothing (no plugins, no database) — what an order costs with order-host's work removed.

#![allow(missing_debug_implementations, dead_code, clippy::unused_async)] // the #[activities] macro generates marker types and consts; activities must be async

use std::sync::Arc;
use std::time::Duration;

use order_host::activities::payloads::{
    ChargeInput, Charged, DispatchInput, Dispatched, PackageInfo, Packed, PrepareInput, Received, RecordStateInput,
    RefundInput, Refunded, ShipInput, Shipped, ValidateInput, Validated,
};
use order_host::domain::{OrderInput, PluginRun, TimeoutAction};
use order_host::temporal::worker::HEARTBEAT_FLUSH;
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
        })
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

/// Runs the floor's two workers (orders + shipping queues) until `stop` resolves; same worker settings as
/// order-host's.
pub async fn run_workers(
    client: Client,
    orders_queue: &str,
    shipping_queue: &str,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    // The same workflow as order-host's: it writes the OrderState search attribute, which the namespace must define.
    order_host::temporal::search::ensure_order_state(&client).await?;
    let runtime = Runtime::from_current_tokio(RuntimeOptions::default())?;
    let activities = || NoopActivities { shipping_queue: shipping_queue.to_owned() };
    let orders = WorkerOptions::new(orders_queue.to_owned())
        .register_workflow::<OrderWorkflow>()?
        .register_activities(activities())
        .max_heartbeat_throttle_interval(HEARTBEAT_FLUSH)
        .default_heartbeat_throttle_interval(HEARTBEAT_FLUSH)
        .graceful_shutdown_period(Duration::from_secs(5))
        .build();
    let shipping = WorkerOptions::new(shipping_queue.to_owned())
        .register_workflow::<ShippingWorkflow>()?
        .register_activities(activities())
        .max_heartbeat_throttle_interval(HEARTBEAT_FLUSH)
        .default_heartbeat_throttle_interval(HEARTBEAT_FLUSH)
        .graceful_shutdown_period(Duration::from_secs(5))
        .build();
    let mut workers = [Worker::new(&runtime, client.clone(), orders)?, Worker::new(&runtime, client, shipping)?];
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
