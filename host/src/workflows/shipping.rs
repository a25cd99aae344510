//! `ShippingWorkflow`: one shipping attempt of an order, as a child on the `shipping` queue.

#![allow(missing_debug_implementations)] // the workflow macros generate marker types

use std::collections::BTreeMap;
use std::pin::pin;
use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflows::select;
use temporalio_sdk::{
    ActivityExecutionError, ApplicationFailure, CancellableFuture, SignalWorkflowOptions, SyncWorkflowContext,
    TimerResult, WorkflowContext, WorkflowContextView, WorkflowResult, WorkflowTermination,
};

use super::failure::describe_failure;
use super::messages::{self, DispatchApproval, DispatchFailed, PackageReady, ShippingInput, ShippingResult};
use super::{options, patches, step};
use crate::activities::ShippingActivities;
use crate::domain::payloads::{DispatchInput, PrepareInput, ShipInput};
use crate::domain::{Activity, Address};

/// One shipment: prepare → wait for the parent's dispatch approval → dispatch → ship.
#[workflow]
pub struct ShippingWorkflow {
    input: ShippingInput,
    /// The address the parent approved the dispatch to.
    approved_address: Option<Address>,
    step: String,
}

type Ctx = WorkflowContext<ShippingWorkflow>;

#[workflow_methods]
impl ShippingWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: ShippingInput) -> Self {
        ShippingWorkflow { input, approved_address: None, step: Activity::PreparePackage.name().into() }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ShippingResult> {
        let input = ctx.state(|s| s.input.clone());
        let timeout = Duration::from_millis(input.activity_timeout_ms);
        let mut retries = BTreeMap::new();

        // Asked for by the parent, in the input; the patch marker makes a child that a worker of older code ran
        // (which ignores the field and runs activities of their own) replay as it ran.
        let local = input.local_steps && ctx.patched(patches::LOCAL_STEPS);

        let prepare = PrepareInput { order: input.order.clone(), shipment: input.shipment };
        let options = options::business_step(timeout);
        let packed = match step::run(ctx, local, || ShippingActivities::prepare_package, prepare, options).await {
            Ok(packed) => packed,
            Err(e) => return give_up(ctx, &input, Activity::PreparePackage, &e).await,
        };
        count(&mut retries, Activity::PreparePackage, packed.attempt);

        // Ask the parent for the go-ahead; it answers with the final address, or cancels this workflow.
        ctx.state_mut(|s| s.step = "awaiting_dispatch_approval".into());
        let ready = PackageReady { shipment: input.shipment, package_id: packed.package.package_id.clone() };
        ctx.external_workflow(input.parent_workflow_id.clone(), None)
            .signal(messages::PACKAGE_READY, ready, SignalWorkflowOptions::default())
            .await?;
        let Some(address) = await_approval(ctx, local).await? else {
            let reason =
                format!("no dispatch approval came within {DISPATCH_APPROVAL_WAIT:?}; the parcel was not sent");
            return not_dispatched(ctx, &input, reason).await;
        };

        ctx.state_mut(|s| s.step = Activity::DispatchCarrier.name().into());
        let mut order = input.order.clone();
        order.address = address.clone();
        let dispatch = DispatchInput { order, shipment: input.shipment, package: packed.package.clone() };
        let options = options::dispatch_step(timeout);
        let dispatched = match step::run(ctx, local, || ShippingActivities::dispatch_carrier, dispatch, options).await {
            Ok(dispatched) => dispatched,
            Err(e) => return give_up(ctx, &input, Activity::DispatchCarrier, &e).await,
        };
        count(&mut retries, Activity::DispatchCarrier, dispatched.attempt);

        ctx.state_mut(|s| s.step = Activity::ShipOrder.name().into());
        let ship = ShipInput {
            order_id: input.order.order_id.clone(),
            shipment: input.shipment,
            package_id: packed.package.package_id.clone(),
            carrier: dispatched.carrier.clone(),
            tracking: dispatched.tracking.clone(),
            address,
            seq: input.shipped_seq,
        };
        // The parcel is with the carrier: recording it is retried until it is done, never abandoned — a failure
        // here would make the parent dispatch again or refund a parcel on its way.
        let options = options::compensation_step(timeout);
        let shipped = step::run(ctx, local, || ShippingActivities::ship_order, ship, options).await?;
        count(&mut retries, Activity::ShipOrder, shipped.attempt);
        ctx.state_mut(|s| s.step = "shipped".into());
        Ok(ShippingResult {
            package_id: packed.package.package_id,
            carrier: dispatched.carrier,
            tracking: dispatched.tracking,
            eta_days: dispatched.eta_days,
            retries,
            plugin: dispatched.plugin,
        })
    }

    /// The parent approves the dispatch, to this address.
    #[signal]
    pub fn dispatch_approved(&mut self, _ctx: &mut SyncWorkflowContext<Self>, input: DispatchApproval) {
        self.approved_address = Some(input.address);
    }

    /// Where this shipment is.
    #[query]
    pub fn step(&self, _ctx: &WorkflowContextView) -> String {
        self.step.clone()
    }
}

fn count(retries: &mut BTreeMap<String, u32>, activity: Activity, attempt: u32) {
    if attempt > 1 {
        retries.insert(activity.name().into(), attempt - 1);
    }
}

/// How long a packed parcel waits for the parent's go-ahead before the shipment gives up undispatched.
pub const DISPATCH_APPROVAL_WAIT: Duration = Duration::from_hours(1);

/// Waits for the parent's dispatch approval: the address, or `None` when none came in time. Runs recorded before
/// the wait was bounded keep waiting without a timer, as they did; runs with local steps are bounded without asking
/// (one patch marker per run).
async fn await_approval(ctx: &Ctx, local: bool) -> WorkflowResult<Option<Address>> {
    let approved = |s: &ShippingWorkflow| s.approved_address.is_some();
    if !local && !ctx.patched(patches::BOUNDED_DISPATCH_WAIT) {
        ctx.wait_condition(approved).await?;
        return Ok(ctx.state(|s| s.approved_address.clone()));
    }
    if local && let Some(address) = ctx.state(|s| s.approved_address.clone()) {
        // Already here: no timer to start and cancel.
        return Ok(Some(address));
    }
    let mut timer = pin!(ctx.timer(DISPATCH_APPROVAL_WAIT));
    select! {
        waited = ctx.wait_condition(approved) => {
            timer.cancel();
            waited?;
        },
        fired = timer.as_mut() => {
            if fired != TimerResult::Fired {
                // The timer was cancelled with the workflow: the parent cancelled this shipment.
                return Err(WorkflowTermination::cancelled());
            }
        },
    }
    // An approval that landed together with the timer still wins.
    Ok(ctx.state(|s| s.approved_address.clone()))
}

/// This shipment cannot go: tell the parent (`dispatch_failed`) and end as failed. A cancellation from the parent
/// ends as cancelled instead.
async fn give_up(
    ctx: &Ctx,
    input: &ShippingInput,
    activity: Activity,
    error: &ActivityExecutionError,
) -> WorkflowResult<ShippingResult> {
    if matches!(error, ActivityExecutionError::Cancelled(_)) {
        return Err(WorkflowTermination::cancelled());
    }
    let reason = format!("{activity}: {}", describe_failure(error.failure()));
    not_dispatched(ctx, input, reason).await
}

/// Tells the parent this shipment was not dispatched and ends as failed.
async fn not_dispatched(ctx: &Ctx, input: &ShippingInput, reason: String) -> WorkflowResult<ShippingResult> {
    let failed = DispatchFailed { shipment: input.shipment, reason: reason.clone() };
    ctx.external_workflow(input.parent_workflow_id.clone(), None)
        .signal(messages::DISPATCH_FAILED, failed, SignalWorkflowOptions::default())
        .await?;
    Err(ApplicationFailure::builder(format!("shipment {} failed: {reason}", input.shipment))
        .type_name("DispatchFailed".to_owned())
        .non_retryable(true)
        .build()
        .into())
}
