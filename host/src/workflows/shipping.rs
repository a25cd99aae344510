//! `ShippingWorkflow`: one shipping attempt of an order, as a child on the `shipping` queue.

#![allow(missing_debug_implementations)] // the workflow macros generate marker types
#![allow(clippy::needless_pass_by_value)] // handler signatures are fixed by the workflow macros

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures::FutureExt as _;
use temporalio_common::data_converters::RawValue;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflows::select;
use temporalio_sdk::{
    ActivityExecutionError, ApplicationFailure, CancellableFuture, SignalWorkflowOptions, SyncWorkflowContext,
    TimerOptions, TimerResult, WaitConditionOptions, WorkflowCancellationToken, WorkflowContext, WorkflowContextView,
    WorkflowResult, WorkflowTermination,
};

use super::failure::{DISPATCH_FAILED, describe_failure};
use super::messages::{
    self, DispatchApproval, DispatchFailed, PackageReady, ShipmentChangeAnswer, ShippingInput, ShippingResult,
};
use super::{options, patches, step};
use crate::activities::ShippingActivities;
use crate::domain::payloads::{
    ClaimInput, DispatchInput, Dispatched, PackageInfo, PrepareInput, ShipInput, ShipmentChange,
};
use crate::domain::{Activity, Address};

/// One shipment: prepare → dispatch → ship. With delegated dispatch (new parents) it dispatches on its own authority
/// and answers the parent's `change_shipment` questions: a stop or an address is taken until the dispatch begins,
/// refused after. Children of older parents wait for the parent's dispatch approval after packing instead.
#[workflow]
pub struct ShippingWorkflow {
    input: ShippingInput,
    /// The address the parent approved the dispatch to (the handshake).
    approved_address: Option<Address>,
    step: String,
    /// Delegated dispatch: the dispatch has begun, changes are refused from now on.
    dispatch_begun: bool,
    /// Delegated dispatch: a stop was taken (this shipment ends cancelled, undispatched).
    stop: bool,
    /// Delegated dispatch: the address a change asked for, taken before the dispatch.
    address: Option<Address>,
    /// Delegated dispatch: answers owed to the parent.
    answers: Vec<ShipmentChangeAnswer>,
    /// This run claims its decision ([`claimed`]; not every run whose input asks: one older code ran replays its path).
    claiming: bool,
    /// Claimed dispatch: changes heard before the decision, answered once the claim that holds is known.
    pending: Vec<ShipmentChange>,
}

type Ctx = WorkflowContext<ShippingWorkflow>;

#[workflow_methods]
impl ShippingWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: ShippingInput) -> Self {
        ShippingWorkflow {
            input,
            approved_address: None,
            step: Activity::PreparePackage.name().into(),
            dispatch_begun: false,
            stop: false,
            address: None,
            answers: Vec::new(),
            claiming: false,
            pending: Vec::new(),
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ShippingResult> {
        let input = ctx.state(|s| s.input.clone());
        let timeout = Duration::from_millis(input.activity_timeout_ms);
        let mut retries = BTreeMap::new();

        // Asked for by the parent, in the input; the patch marker makes a child that a worker of older code ran
        // (which ignores the field and runs activities of their own) replay as it ran. One marker per run: the newest
        // implies the older.
        if input.delegated {
            // A child asked to claim does so without a marker; one that older code ran before (with its marker) is
            // only ever met in replay, and replays the path its marker names.
            let fresh = input.claims && !ctx.is_replaying();
            let committed = !fresh && ctx.patched(patches::COMMITTED_DISPATCH);
            if committed || (!fresh && ctx.patched(patches::DELEGATED_DISPATCH)) {
                return delegated(ctx, &input, timeout, committed).await;
            }
            if input.claims {
                ctx.state_mut(|s| s.claiming = true);
                return claimed(ctx, &input, timeout).await;
            }
        }
        let local = input.local_steps && ctx.patched(patches::LOCAL_STEPS);

        let prepare = PrepareInput { order: input.order.clone(), shipment: input.shipment, before: None };
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
        let dispatch = DispatchInput { order, shipment: input.shipment, package: packed.package.clone(), claim: false };
        let options = options::dispatch_step(timeout);
        let dispatched = match step::run(ctx, local, || ShippingActivities::dispatch_carrier, dispatch, options).await {
            Ok(dispatched) => dispatched,
            Err(e) => return give_up(ctx, &input, Activity::DispatchCarrier, &e).await,
        };
        count(&mut retries, Activity::DispatchCarrier, dispatched.attempt);

        ctx.state_mut(|s| s.step = Activity::ShipOrder.name().into());
        let ship = ship_input(&input, &packed.package, &dispatched, address);
        // The parcel is with the carrier: recording it is retried until it is done, never abandoned — a failure
        // here would make the parent dispatch again or refund a parcel on its way.
        let options = options::compensation_step(timeout);
        let shipped = step::run(ctx, local, || ShippingActivities::ship_order, ship, options).await?;
        count(&mut retries, Activity::ShipOrder, shipped.attempt);
        ctx.state_mut(|s| s.step = "shipped".into());
        Ok(shipping_result(packed.package, dispatched, retries, None))
    }

    /// Delegated dispatch: the parent asks to stop before the dispatch, or to dispatch to a new address
    /// (`{"shipment","change","stop"?,"address"?}`). Taken until the dispatch begins. A stop taken is answered by
    /// this run's end (cancelled, undispatched); everything else by `shipment_change_answered`.
    #[signal]
    pub fn change_shipment(&mut self, _ctx: &mut SyncWorkflowContext<Self>, input: RawValue) {
        let Some(change) = messages::shipment_change(&input) else { return };
        if !self.input.delegated || change.shipment != self.input.shipment {
            return;
        }
        if self.claiming && !self.dispatch_begun {
            // Taken or not once the decision is claimed ([`claimed`]); a stop interrupts the preparation meanwhile.
            self.stop |= change.stop;
            if let Some(address) = &change.address {
                self.address = Some(address.clone());
            }
            self.pending.push(change);
            return;
        }
        let taken = !self.dispatch_begun;
        if taken {
            self.stop |= change.stop;
            if let Some(address) = change.address {
                self.address = Some(address);
            }
        }
        if !(taken && change.stop) {
            self.answers.push(ShipmentChangeAnswer { shipment: change.shipment, change: change.change, taken });
        }
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

/// The shipment with delegated dispatch: prepare (given up if a stop is taken meanwhile), then — unless a stop was
/// taken — commit the decision, dispatch to the newest address taken and ship, answering the parent's changes while
/// any step runs. Runs recorded before [`patches::COMMITTED_DISPATCH`] (`committed` false) committed after the dispatch.
async fn delegated(
    ctx: &Ctx,
    input: &ShippingInput,
    timeout: Duration,
    committed: bool,
) -> WorkflowResult<ShippingResult> {
    let mut retries = BTreeMap::new();
    let stop = ctx.cancellation_token().child_token();
    // The parent's `shipping` state is written by this first step.
    let prepare = PrepareInput { order: input.order.clone(), shipment: input.shipment, before: input.before.clone() };
    let options = options::business_step(timeout).cancellation_token(&stop);
    let prepared =
        answering(ctx, step::run(ctx, true, || ShippingActivities::prepare_package, prepare, options), Some(&stop));
    let packed = match prepared.await {
        Ok(packed) => packed,
        Err(e) => return give_up(ctx, input, Activity::PreparePackage, &e).await,
    };
    count(&mut retries, Activity::PreparePackage, packed.attempt);

    // The last moment a change is taken: from here on the parcel is going.
    let (stopped, address) = ctx.state_mut(|s| {
        s.dispatch_begun = !s.stop;
        if !s.stop {
            Activity::DispatchCarrier.name().clone_into(&mut s.step);
        }
        (s.stop, s.address.clone().unwrap_or_else(|| s.input.order.address.clone()))
    });
    if stopped {
        send_answers(ctx).await;
        return Err(WorkflowTermination::cancelled());
    }
    if committed {
        // Commit the decision before the parcel moves: the task that dispatches may run again from the last commit
        // (its worker died in it; the server refused its completion because a change arrived), and must find the
        // dispatch decided rather than decide anew with a stop or an address that arrived meanwhile in front of it.
        // A change that arrives from here on is refused, and answered while the commit is made.
        let _ = answering(ctx, ctx.timer(commit_timer()), None).await;
    }
    let dispatched = match dispatch(ctx, input, timeout, &packed.package, &address, false).await {
        Ok(dispatched) => dispatched,
        Err(e) => return give_up(ctx, input, Activity::DispatchCarrier, &e).await,
    };
    count(&mut retries, Activity::DispatchCarrier, dispatched.attempt);
    if !committed {
        // How runs recorded before COMMITTED_DISPATCH committed: after the dispatch, which a lost task ran in vain.
        let _ = ctx.timer(commit_timer()).await;
    }
    ship(ctx, input, timeout, packed.package, dispatched, address, retries).await
}

/// The shipment that claims (children of today's parents): prepare — given up if a stop comes meanwhile — then
/// decide, all in one workflow task. With no change asked, dispatch at once: the dispatch claims the shipment in the
/// database. With a stop, an address or a preparation that failed, claim the shipment first and follow the claim that
/// holds: the task may be a run again of one whose worker died or whose completion the server refused (a change
/// arrived meanwhile, and is now heard first), and what that earlier run claimed — a parcel handed to the carrier —
/// wins over what this run heard since. Changes heard after the decision are refused.
async fn claimed(ctx: &Ctx, input: &ShippingInput, timeout: Duration) -> WorkflowResult<ShippingResult> {
    let mut retries = BTreeMap::new();
    let stop = ctx.cancellation_token().child_token();
    // The parent's `shipping` state is written by this first step.
    let prepare = PrepareInput { order: input.order.clone(), shipment: input.shipment, before: input.before.clone() };
    let options = options::business_step(timeout).cancellation_token(&stop);
    let prepared =
        answering(ctx, step::run(ctx, true, || ShippingActivities::prepare_package, prepare, options), Some(&stop))
            .await;
    if let Ok(packed) = &prepared {
        count(&mut retries, Activity::PreparePackage, packed.attempt);
    }

    // The decision. Without a change heard, it is the dispatch's own claim; with one, the claim comes first, and
    // changes heard while it is made wait for its answer too.
    let (stop_asked, address_asked) = ctx.state_mut(|s| {
        let asked = s.stop || s.address.is_some() || prepared.is_err();
        s.dispatch_begun = !asked;
        (s.stop, s.address.clone())
    });
    let mut address = address_asked.clone().unwrap_or_else(|| input.order.address.clone());
    let mut package = prepared.as_ref().ok().map(|p| p.package.clone());
    if stop_asked || address_asked.is_some() || prepared.is_err() {
        let claim = ClaimInput {
            order_id: input.order.order_id.clone(),
            shipment: input.shipment,
            stop: stop_asked || prepared.is_err(),
            address: address.clone(),
            package: package.clone(),
        };
        let held = ctx.execute_local_activity(ShippingActivities::claim_shipment, claim, options::bookkeeping()).await;
        let held = held.map_err(|e| {
            let reason = describe_failure(e.failure());
            ApplicationFailure::builder(format!("shipment {} could not be claimed: {reason}", input.shipment)).build()
        })?;
        // From here on changes are refused. An address asked is taken when the parcel goes there (or does not go at
        // all); a stop only by the stop.
        let ours = !held.stop && Some(&held.address) == address_asked.as_ref();
        ctx.state_mut(|s| {
            s.dispatch_begun = true;
            for change in std::mem::take(&mut s.pending) {
                let taken = if change.stop {
                    held.stop
                } else {
                    held.stop || ours || change.address.as_ref() == Some(&held.address)
                };
                // A stop taken is answered by this run's end.
                if !(taken && change.stop) {
                    s.answers.push(ShipmentChangeAnswer { shipment: change.shipment, change: change.change, taken });
                }
            }
        });
        if held.stop {
            send_answers(ctx).await;
            return match prepared {
                _ if stop_asked => Err(WorkflowTermination::cancelled()),
                Err(e) => give_up(ctx, input, Activity::PreparePackage, &e).await,
                // An earlier run of this task, whose preparation failed, stopped the shipment.
                Ok(_) => {
                    let reason = "an earlier run of this shipment gave it up before its dispatch".to_owned();
                    not_dispatched(ctx, input, reason).await
                }
            };
        }
        address = held.address;
        package = held.package.or(package);
    }
    let Some(package) = package else {
        // An earlier run claimed the dispatch, this one has no parcel, and the claim's cannot be read back: the parcel
        // may be out, so the shipment is not given up (the parent would ship again) but ends for someone to look at.
        let reason = format!("shipment {} was claimed for its dispatch but its parcel cannot be read", input.shipment);
        return Err(ApplicationFailure::builder(reason).non_retryable(true).build().into());
    };

    ctx.state_mut(|s| Activity::DispatchCarrier.name().clone_into(&mut s.step));
    let dispatched = match dispatch(ctx, input, timeout, &package, &address, true).await {
        Ok(dispatched) => dispatched,
        Err(e) => return give_up(ctx, input, Activity::DispatchCarrier, &e).await,
    };
    count(&mut retries, Activity::DispatchCarrier, dispatched.attempt);
    // The parcel that went: this run's, or the one an earlier run of this task claimed.
    let package = dispatched.package.clone().unwrap_or(package);
    ship(ctx, input, timeout, package, dispatched, address, retries).await
}

/// Delegated dispatch: hands `package` to the carrier for `address` (claiming the shipment first with `claim`),
/// answering the parent's changes meanwhile. On a token of its own: the run ends cancelled only before its dispatch
/// (the parent counts on it), so not even a cancel sent to it from outside interrupts the dispatch.
async fn dispatch(
    ctx: &Ctx,
    input: &ShippingInput,
    timeout: Duration,
    package: &PackageInfo,
    address: &Address,
    claim: bool,
) -> Result<Dispatched, ActivityExecutionError> {
    let mut order = input.order.clone();
    order.address = address.clone();
    let dispatch = DispatchInput { order, shipment: input.shipment, package: package.clone(), claim };
    let options = options::dispatch_step(timeout).cancellation_token(&WorkflowCancellationToken::new());
    answering(ctx, step::run(ctx, true, || ShippingActivities::dispatch_carrier, dispatch, options), None).await
}

/// Delegated dispatch, once the parcel is with the carrier: records it shipped — retried until done, never abandoned
/// (see the handshake path) — answering the parent's changes meanwhile, and ends the run with where it went.
async fn ship(
    ctx: &Ctx,
    input: &ShippingInput,
    timeout: Duration,
    package: PackageInfo,
    dispatched: Dispatched,
    address: Address,
    mut retries: BTreeMap<String, u32>,
) -> WorkflowResult<ShippingResult> {
    ctx.state_mut(|s| Activity::ShipOrder.name().clone_into(&mut s.step));
    let ship = ship_input(input, &package, &dispatched, address.clone());
    let options = options::compensation_step(timeout);
    let shipped = answering(ctx, step::run(ctx, true, || ShippingActivities::ship_order, ship, options), None).await?;
    count(&mut retries, Activity::ShipOrder, shipped.attempt);
    ctx.state_mut(|s| s.step = "shipped".into());
    Ok(shipping_result(package, dispatched, retries, Some(address)))
}

/// `ship_order`'s input: the parcel `dispatched` took, to `address`.
fn ship_input(input: &ShippingInput, package: &PackageInfo, dispatched: &Dispatched, address: Address) -> ShipInput {
    ShipInput {
        order_id: input.order.order_id.clone(),
        shipment: input.shipment,
        package_id: package.package_id.clone(),
        carrier: dispatched.carrier.clone(),
        tracking: dispatched.tracking.clone(),
        address,
        seq: input.shipped_seq,
    }
}

/// What a shipment that shipped tells its parent (`address`: where it went, when this run decided it).
fn shipping_result(
    package: PackageInfo,
    dispatched: Dispatched,
    retries: BTreeMap<String, u32>,
    address: Option<Address>,
) -> ShippingResult {
    ShippingResult {
        package_id: package.package_id,
        carrier: dispatched.carrier,
        tracking: dispatched.tracking,
        eta_days: dispatched.eta_days,
        retries,
        plugin: dispatched.plugin,
        address,
    }
}

/// A timer that ends the current workflow task, committing what it did (see [`delegated`]), on a token of its own.
pub(super) fn commit_timer() -> TimerOptions {
    TimerOptions::builder(COMMIT).cancellation_token(WorkflowCancellationToken::new()).build()
}

/// How long a commit timer runs: the shortest wait the server takes.
const COMMIT: Duration = Duration::from_millis(1);

/// Awaits `step`, answering the parent's changes meanwhile. With `stopper`, a stop taken meanwhile cancels the step
/// (which then ends as cancelled).
async fn answering<T>(ctx: &Ctx, step: impl Future<Output = T>, stopper: Option<&WorkflowCancellationToken>) -> T {
    let mut step = pin!(step.fuse());
    loop {
        let stoppable = stopper.is_some();
        let owed = move |s: &ShippingWorkflow| !s.answers.is_empty() || (stoppable && s.stop);
        let options = WaitConditionOptions::builder().cancellation_token(WorkflowCancellationToken::new()).build();
        select! {
            out = step.as_mut() => return out,
            _ = ctx.wait_condition_with_options(owed, options) => {},
        }
        send_answers(ctx).await;
        if let Some(token) = stopper
            && ctx.state(|s| s.stop)
        {
            token.cancel();
            return step.await;
        }
    }
}

/// Sends the answers owed to the parent (`shipment_change_answered`), on tokens of their own. An answer that cannot
/// be delivered is not retried: the parent reads this shipment's end instead.
async fn send_answers(ctx: &Ctx) {
    let (parent, answers) = ctx.state_mut(|s| (s.input.parent_workflow_id.clone(), std::mem::take(&mut s.answers)));
    for answer in answers {
        let options = SignalWorkflowOptions::builder().cancellation_token(WorkflowCancellationToken::new()).build();
        let sent =
            ctx.external_workflow(parent.clone(), None).signal(messages::SHIPMENT_CHANGE_ANSWERED, answer, options);
        let _ = sent.await;
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
        .type_name(DISPATCH_FAILED.to_owned())
        .non_retryable(true)
        .build()
        .into())
}
