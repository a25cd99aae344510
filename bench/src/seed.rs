//! The seed-shaped floor: the seed's order lifecycle written the plain way with the Rust SDK and never optimised —
//! an ordinary activity per step, a signal for the approval (waited for with a timer), and a child workflow on a queue
//! of its own for shipping, with activities that do nothing. Unlike the same-shape floor ([`crate::floor`]), it does
//! not move when order-host's workflow changes: it is what any system of the seed's shape costs on the same server.
//!
//! ```text
//! SeedOrderWorkflow   receive_order → validate_order → [approve_order signal] → charge_payment → child:
//! SeedShippingWorkflow                                      prepare_package → dispatch_carrier → ship_order
//! ```

#![allow(missing_debug_implementations, dead_code, clippy::unused_async)] // macro-generated marker types; activities must be async

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions};
use temporalio_common::data_converters::RawValue;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::workflows::{WorkflowImplementation, select};
use temporalio_sdk::{
    ActivityOptions, CancellableFuture, ChildWorkflowOptions, SyncWorkflowContext, TimerResult, WorkerOptions,
    WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::report::Outcome;
use order_host::domain::OrderState;

/// The seed's workflow input, reduced to what the floor needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedOrder {
    pub order_id: String,
    pub shipping_queue: String,
}

/// The seed's approval timeout.
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(10);

fn step() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(5)).build()
}

/// The seed's activities, doing nothing.
pub struct SeedActivities;

#[activities]
impl SeedActivities {
    #[activity(name = "receive_order")]
    pub async fn receive_order(_ctx: ActivityContext, _order: SeedOrder) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "validate_order")]
    pub async fn validate_order(_ctx: ActivityContext, _order: SeedOrder) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "charge_payment")]
    pub async fn charge_payment(_ctx: ActivityContext, _order: SeedOrder) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "prepare_package")]
    pub async fn prepare_package(_ctx: ActivityContext, _order: SeedOrder) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "dispatch_carrier")]
    pub async fn dispatch_carrier(_ctx: ActivityContext, _order: SeedOrder) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "ship_order")]
    pub async fn ship_order(_ctx: ActivityContext, _order: SeedOrder) -> Result<(), ActivityError> {
        Ok(())
    }
}

#[workflow]
pub struct SeedOrderWorkflow {
    order: SeedOrder,
    approved: bool,
}

#[workflow_methods]
impl SeedOrderWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, order: SeedOrder) -> Self {
        SeedOrderWorkflow { order, approved: false }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<String> {
        let order = ctx.state(|s| s.order.clone());
        ctx.execute_activity(SeedActivities::receive_order, order.clone(), step()).await?;
        ctx.execute_activity(SeedActivities::validate_order, order.clone(), step()).await?;
        let mut timer = pin!(ctx.timer(APPROVAL_TIMEOUT));
        select! {
            _ = ctx.wait_condition(|s: &SeedOrderWorkflow| s.approved) => timer.cancel(),
            fired = timer.as_mut() => if fired == TimerResult::Fired { return Ok("cancelled".into()) },
        }
        ctx.execute_activity(SeedActivities::charge_payment, order.clone(), step()).await?;
        let options = ChildWorkflowOptions::builder()
            .workflow_id(format!("{}-shipping", order.order_id))
            .task_queue(order.shipping_queue.clone())
            .build();
        let shipping = ctx.start_child_workflow(SeedShippingWorkflow::run, order, options).await?;
        shipping.result().await?;
        Ok("shipped".into())
    }

    #[signal]
    pub fn approve_order(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: RawValue) {
        self.approved = true;
    }
}

#[workflow]
pub struct SeedShippingWorkflow {
    order: SeedOrder,
}

#[workflow_methods]
impl SeedShippingWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, order: SeedOrder) -> Self {
        SeedShippingWorkflow { order }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let order = ctx.state(|s| s.order.clone());
        ctx.execute_activity(SeedActivities::prepare_package, order.clone(), step()).await?;
        ctx.execute_activity(SeedActivities::dispatch_carrier, order.clone(), step()).await?;
        ctx.execute_activity(SeedActivities::ship_order, order, step()).await?;
        Ok(())
    }
}

/// The seed floor's worker options for its two queues.
pub fn worker_options(orders_queue: &str, shipping_queue: &str) -> anyhow::Result<[WorkerOptions; 2]> {
    Ok([
        WorkerOptions::new(orders_queue.to_owned())
            .register_workflow::<SeedOrderWorkflow>()?
            .register_activities(SeedActivities)
            .graceful_shutdown_period(Duration::from_secs(5))
            .build(),
        WorkerOptions::new(shipping_queue.to_owned())
            .register_workflow::<SeedShippingWorkflow>()?
            .register_activities(SeedActivities)
            .graceful_shutdown_period(Duration::from_secs(5))
            .build(),
    ])
}

type SeedRun = <SeedOrderWorkflow as WorkflowImplementation>::Run;

/// One order the seed's way: start, signal the approval, wait for the end.
pub async fn order(client: &Arc<Client>, orders_queue: &str, shipping_queue: &str, id: &str) -> Outcome {
    let started = std::time::Instant::now();
    let input = SeedOrder { order_id: id.to_owned(), shipping_queue: shipping_queue.to_owned() };
    let options = WorkflowStartOptions::new(orders_queue, id).build();
    let Ok(handle) = client.start_workflow(SeedOrderWorkflow::run, input, options).await else {
        return Outcome { state: None, elapsed: started.elapsed() };
    };
    let approve =
        handle.signal(SeedOrderWorkflow::approve_order, RawValue::new(vec![]), WorkflowSignalOptions::default()).await;
    let handle = client.get_workflow_handle::<SeedRun>(id.to_owned());
    let state = match (approve, handle.get_result(WorkflowGetResultOptions::default()).await) {
        (Ok(()), Ok(end)) if end == "shipped" => OrderState::Shipped,
        (_, Ok(_)) => OrderState::Cancelled,
        _ => OrderState::Failed,
    };
    Outcome { state: Some(state), elapsed: started.elapsed() }
}
