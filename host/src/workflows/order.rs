//! `OrderWorkflow`: the driver of the order lifecycle. Every rule lives in [`crate::domain::lifecycle`]; this file
//! turns signals, updates, timers, activity results and the child's news into [`Command`]s, and carries out each
//! [`Decision`]: write the state it names (`record_state`), then run its [`Next`] step.

#![allow(missing_debug_implementations)] // the workflow macros generate marker types
#![allow(clippy::needless_pass_by_value)] // handler signatures are fixed by the workflow macros
#![allow(clippy::unused_async)] // every handler that changes the order is async (see the handlers), waiting or not

use std::error::Error;
use std::pin::pin;
use std::time::Duration;

use futures::FutureExt as _;

use temporalio_common::data_converters::RawValue;
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflows::select;
use temporalio_sdk::{
    ActivityExecutionError, ApplicationFailure, CancellableFuture, CancellableFutureWithReason,
    ChildWorkflowCancellationType, ChildWorkflowOptions, SignalWorkflowOptions, TimerResult, WaitConditionOptions,
    WorkflowCancellationToken, WorkflowContext, WorkflowContextView, WorkflowIdReusePolicy, WorkflowResult,
    WorkflowTermination,
};

use super::failure::{describe_failure, failure_kind, shipment_end};
use super::messages::{self, CommandOutcome, DispatchApproval, ShipmentChange, ShippingInput};
use super::published::Publication;
use super::shipping::ShippingWorkflow;
use super::{options, patches, step};
use crate::activities::OrderActivities;
use crate::domain::payloads::{ReceiveInput, RecordStateInput, ValidateInput};
use crate::domain::{Activity, Command, Decision, End, Lifecycle, Next, OrderState, Refusal, StatusDocument};

/// One order: the lifecycle aggregate, nothing else.
#[workflow]
pub struct OrderWorkflow {
    order: Lifecycle,
    /// Where this run's status document is published for this process's status reads.
    publication: Publication,
    /// The revision of the lifecycle the input asks for ([`patches::REVISION`]).
    revision: u32,
}

type Ctx = WorkflowContext<OrderWorkflow>;
type Validation = Result<(), Box<dyn Error + Send + Sync>>;

#[workflow_methods]
impl OrderWorkflow {
    /// The input is an order (`{"order_id","payment_id","items","address","options"?}`), decoded here: see
    /// [`messages::order_input`].
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: RawValue) -> Self {
        let order = match messages::order_input(&input) {
            Ok(order) => Lifecycle::new(order),
            Err(reason) => Lifecycle::unreadable(ctx.workflow_id(), reason),
        };
        let publication = Publication::new(ctx.namespace(), ctx.workflow_id(), ctx.run_id());
        OrderWorkflow { order, publication, revision: messages::revision(&input) }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<StatusDocument> {
        let Paths { delegated, local, guarded, indexed } = paths(ctx);
        if delegated {
            ctx.state_mut(|s| s.order.delegate_dispatch());
        }
        if !guarded {
            ctx.state_mut(|s| s.order.keep_original_rules());
        }
        // Runs recorded before the search attribute replay without its upserts.
        let mut indexed = indexed.then_some(None);
        let mut next = ctx.state(|s| s.order.start());
        publish(ctx);
        loop {
            if let Some(indexed) = &mut indexed
                && (!local || next.waits())
            {
                index_state(ctx, indexed);
            }
            let decision = match next {
                Next::Finish(end) => {
                    if delegated && end != End::Shipped {
                        // The end's own steps (a refund, the final state) ran as local activities in this workflow
                        // task: commit them before completing. A task that completes the run is refused when a
                        // signal arrived meanwhile and runs again, its local activities with it, and their writes
                        // (at the same sequence numbers) would be dropped while the run decided anew.
                        let _ = ctx.timer(super::shipping::commit_timer()).await;
                    }
                    // An update waiting for a shipment's answer was answered by the same command that ended the
                    // order: let it reply before the run closes (nothing is recorded for the wait).
                    let handlers = ctx.clone();
                    let _ = ctx.wait_condition(move |_| handlers.all_handlers_finished()).await;
                    return finish(ctx, &end);
                }
                Next::Receive(order) => {
                    let owner_run_id = Some(ctx.info().first_execution_run_id().to_owned()).filter(|r| !r.is_empty());
                    let input = ReceiveInput { order, owner_run_id };
                    let options = options::business_step(options::RECEIVE_TIMEOUT);
                    let result = step::run(ctx, local, || OrderActivities::receive_order, input, options).await;
                    outcome(ctx, Activity::ReceiveOrder, result, Command::Received)
                }
                Next::Validate(input) => validate(ctx, local, input).await,
                Next::AwaitApproval(timeout) => await_approval(ctx, timeout).await,
                Next::Charge(input) => {
                    // Money is never raced against a cancel, not even the server's: the charge finishes on a token
                    // of its own, then a cancel refunds it.
                    let options = options::detached_step(attempt_timeout(ctx));
                    let result = step::run(ctx, local, || OrderActivities::charge_payment, input, options).await;
                    outcome(ctx, Activity::ChargePayment, result, Command::Charged)
                }
                Next::Ship { mut input, workflow_id, task_queue } => {
                    input.local_steps = local;
                    ship(ctx, input, workflow_id, task_queue).await
                }
                Next::Refund(input) => {
                    let options = options::compensation_step(attempt_timeout(ctx));
                    let result = step::run(ctx, local, || OrderActivities::refund_payment, input, options).await;
                    outcome(ctx, Activity::RefundPayment, result, Command::Refunded)
                }
                other @ (Next::Continue
                | Next::ApproveDispatch { .. }
                | Next::CancelShipment { .. }
                | Next::AskShipment(_)) => {
                    panic!("the lifecycle asked for {other:?} outside a shipment")
                }
            };
            next = carry_out(ctx, decision, delegated).await;
        }
    }

    // Every handler that changes the order is async, even those that never wait: the SDK runs async handlers after
    // the sync ones of the same workflow task, so mixing the two would apply a task's signals and updates out of the
    // order they arrived in (and replay old histories differently). All async, they run in arrival order, before the
    // run loop looks at the order.

    // ---- commands as signals: applied, or noted when refused (a signal has nobody to answer) ----

    /// Approves the order (no payload, or `{}`).
    #[signal]
    pub async fn approve_order(ctx: &mut WorkflowContext<Self>, input: RawValue) {
        signal(ctx, "approve_order", Ok(messages::approve(&input)));
    }

    /// Cancels the order (`{"reason"?}`), with a refund if it was charged.
    #[signal]
    pub async fn cancel_order(ctx: &mut WorkflowContext<Self>, input: RawValue) {
        signal(ctx, "cancel_order", Ok(messages::cancel_leniently(&input)));
    }

    /// Changes the delivery address (`{"street","city","state","zip_code"}`).
    #[signal]
    pub async fn update_address(ctx: &mut WorkflowContext<Self>, input: RawValue) {
        let command = ctx.state(|s| s.address_command(&input));
        signal(ctx, "update_address", command);
    }

    // ---- the same commands as updates: the validator and the update ask the same decision ----

    #[update_validator(approve_order_update)]
    fn validate_approve(&self, _ctx: &WorkflowContextView, input: &RawValue) -> Validation {
        self.check(Ok(messages::approve(input)))
    }

    #[update(name = "approve_order")]
    pub async fn approve_order_update(
        ctx: &mut WorkflowContext<Self>,
        input: RawValue,
    ) -> Result<CommandOutcome, Box<dyn Error + Send + Sync>> {
        answer(ctx, "approve_order", Ok(messages::approve(&input))).await
    }

    #[update_validator(cancel_order_update)]
    fn validate_cancel(&self, _ctx: &WorkflowContextView, input: &RawValue) -> Validation {
        self.check(messages::cancel(input))
    }

    /// Answered when the cancel is decided: at once, or — the shipment's child holds the dispatch — when it has
    /// stopped (accepted) or said its dispatch has begun (refused).
    #[update(name = "cancel_order")]
    pub async fn cancel_order_update(
        ctx: &mut WorkflowContext<Self>,
        input: RawValue,
    ) -> Result<CommandOutcome, Box<dyn Error + Send + Sync>> {
        answer(ctx, "cancel_order", messages::cancel(&input)).await
    }

    #[update_validator(update_address_update)]
    fn validate_address(&self, _ctx: &WorkflowContextView, input: &RawValue) -> Validation {
        self.check(self.address_command(input))
    }

    /// Answered like `cancel_order`: at once, or when the shipment's child took the address or refused it.
    #[update(name = "update_address")]
    pub async fn update_address_update(
        ctx: &mut WorkflowContext<Self>,
        input: RawValue,
    ) -> Result<CommandOutcome, Box<dyn Error + Send + Sync>> {
        let command = ctx.state(|s| s.address_command(&input));
        answer(ctx, "update_address", command).await
    }

    // ---- child → parent ----

    /// The shipping child reports that a shipment cannot be dispatched (`{"shipment","reason"}`).
    #[signal]
    pub async fn dispatch_failed(ctx: &mut WorkflowContext<Self>, input: RawValue) {
        signal(ctx, "dispatch_failed", messages::dispatch_failed(&input));
    }

    /// The shipping child has packed the parcel and asks whether it may dispatch (`{"shipment","package_id"}`).
    #[signal]
    pub async fn package_ready(ctx: &mut WorkflowContext<Self>, input: RawValue) {
        signal(ctx, "package_ready", messages::package_ready(&input));
    }

    /// A delegated shipment's child answers a change asked of it (`{"shipment","change","taken"}`).
    #[signal]
    pub async fn shipment_change_answered(ctx: &mut WorkflowContext<Self>, input: RawValue) {
        signal(ctx, "shipment_change_answered", messages::shipment_change_answered(&input));
    }

    /// The status document.
    #[query]
    pub fn status(&self, ctx: &WorkflowContextView) -> StatusDocument {
        self.order.document(ctx.workflow_id(), ctx.run_id())
    }
}

impl OrderWorkflow {
    /// An address change: a finished or dispatched order says so before its payload is judged.
    fn address_command(&self, input: &RawValue) -> Result<Command, Refusal> {
        self.order.accepts_changes()?;
        messages::update_address(input)
    }

    /// Publishes the status document for this process's status reads (see [`super::published`]).
    fn publish(&self, replaying: bool) {
        self.publication.publish(replaying, |workflow_id, run_id| self.order.document(workflow_id, run_id));
    }

    fn check(&self, command: Result<Command, Refusal>) -> Validation {
        self.order.decide(command?).map(drop).map_err(Into::into)
    }
}

/// What a cancel or address update answers: the outcome, or why it was refused after its validator accepted it (a
/// delegated shipment's child said its dispatch has begun).
type Answer = Result<CommandOutcome, Box<dyn Error + Send + Sync>>;

/// Applies an update the validator accepted and answers it: at once, or — a change a delegated shipment's child must
/// be asked about — once the answer is known (the driver asks; the child or the shipment's end answers).
async fn answer(ctx: &Ctx, name: &str, command: Result<Command, Refusal>) -> Answer {
    let replaying = ctx.is_replaying();
    let decision = ctx.state_mut(|s| {
        let decision = command.and_then(|c| s.order.apply(c));
        s.publish(replaying);
        decision
    });
    // Refused now though its validator passed: a command that arrived earlier in the same workflow task changed the
    // order first (validators run as each command arrives, handlers in arrival order after). The caller hears why.
    let decision = decision?;
    let Some(change) = decision.ask else { return Ok(ctx.state(|s| s.order.outcome(name, &decision))) };
    // Not cut short by a server cancel: that cancel is itself asked of the shipment, and this answer follows.
    let options = WaitConditionOptions::builder().cancellation_token(WorkflowCancellationToken::new()).build();
    let _ = ctx.wait_condition_with_options(|s: &OrderWorkflow| s.order.answered(change), options).await;
    match ctx.state_mut(|s| s.order.take_answer(change)) {
        Some(Ok(message)) => Ok(ctx.state(|s| s.order.outcome(name, &Decision::answer(message)))),
        Some(Err(refusal)) => Err(refusal.into()),
        None => Err(format!("change {change} was answered twice").into()),
    }
}

/// Applies a command that arrived as a signal, or notes why it was refused (a signal has nobody to answer).
fn signal(ctx: &Ctx, name: &str, command: Result<Command, Refusal>) {
    let replaying = ctx.is_replaying();
    ctx.state_mut(|s| {
        match command {
            Ok(command) => s.order.apply_signal(command),
            Err(refusal) => s.order.note_refusal(name, &refusal),
        }
        s.publish(replaying);
    });
}

/// Applies a command from the driver, after noting a server-side cancellation if one arrived. A refusal here is a
/// bug (an outcome the lifecycle did not ask for): the workflow task fails and retries, and the order waits for a
/// fix rather than taking a wrong turn.
fn apply(ctx: &Ctx, command: Command) -> Decision {
    note_server_cancel(ctx);
    refund_unheard_charges(ctx);
    let decision = ctx
        .state_mut(|s| s.order.apply(command))
        .unwrap_or_else(|refusal| panic!("lifecycle refused the driver: {refusal}"));
    publish(ctx);
    decision
}

/// Before a cancel ends an approved order that, as far as this run knows, has not charged: takes
/// [`patches::REFUND_UNHEARD_CHARGES`] (recorded only by runs that come to this point), so the end refunds a charge a
/// lost run of this workflow task may have made.
fn refund_unheard_charges(ctx: &Ctx) {
    if ctx.state(|s| s.order.cancel_ends_approved_uncharged()) && ctx.patched(patches::REFUND_UNHEARD_CHARGES) {
        ctx.state_mut(|s| s.order.refund_unheard_charges());
    }
}

/// Which of the lifecycle's patched paths a run takes.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_excessive_bools)] // one per patch: older runs recorded them in several combinations
struct Paths {
    /// [`patches::DELEGATED_DISPATCH`]
    delegated: bool,
    /// [`patches::LOCAL_STEPS`]
    local: bool,
    /// [`patches::MONEY_AND_OWNERSHIP`]
    guarded: bool,
    /// [`patches::ORDER_STATE_SEARCH_ATTRIBUTE`]
    indexed: bool,
}

impl Paths {
    const NEWEST: Paths = Paths { delegated: true, local: true, guarded: true, indexed: true };
}

/// The paths this run takes: all the newest, without a marker, when its input asks for [`patches::REVISION`];
/// otherwise by the patch markers. A run that takes the newest patch has every older one: it records one marker, not
/// four (each is also a search-attribute upsert the server indexes). Older runs replay the patches they recorded,
/// and a run asked for the revision that older code took (it ignores the field) replays by its markers too.
fn paths(ctx: &Ctx) -> Paths {
    let asked = ctx.state(|s| s.revision) == patches::REVISION;
    if asked && !ctx.is_replaying() {
        return Paths::NEWEST;
    }
    let delegated = ctx.patched(patches::DELEGATED_DISPATCH);
    let local = delegated || ctx.patched(patches::LOCAL_STEPS);
    let guarded = local || ctx.patched(patches::MONEY_AND_OWNERSHIP);
    let indexed = local || ctx.patched(patches::ORDER_STATE_SEARCH_ATTRIBUTE);
    // Older code, which ignores the field, recorded at least one of these markers in every run (all of it since
    // money-and-ownership): asked, and none of them in the history, this code ran it without.
    if asked && !guarded && !indexed { Paths::NEWEST } else { Paths { delegated, local, guarded, indexed } }
}

/// Publishes the run's status document after the driver changed it.
fn publish(ctx: &Ctx) {
    let replaying = ctx.is_replaying();
    ctx.state(|s| s.publish(replaying));
}

/// Tells the lifecycle that the server asked the workflow to cancel, once it has.
fn note_server_cancel(ctx: &Ctx) -> bool {
    let token = ctx.cancellation_token();
    if !token.is_cancelled() {
        return false;
    }
    let reason = token.reason().unwrap_or_else(|| "workflow cancelled".into());
    let _ = ctx.state_mut(|s| s.order.apply(Command::ServerCancelled { reason }));
    publish(ctx);
    true
}

/// Writes the decision's state, then hands back its next step. With `fold` (runs with delegated dispatch) a state
/// entered just before the charge or a shipment is written by that step itself, first: one local activity fewer.
async fn carry_out(ctx: &Ctx, mut decision: Decision, fold: bool) -> Next {
    if let Some(record) = decision.record {
        match &mut decision.next {
            Next::Charge(input) if fold => input.before = Some(Box::new(record)),
            Next::Ship { input, .. } if fold => input.before = Some(Box::new(record)),
            _ => record_state(ctx, record).await,
        }
    }
    decision.next
}

/// The keyword search attribute each state of the order is written to (registered by the workers,
/// [`crate::temporal::search`]).
const ORDER_STATE: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrderState");

/// Writes the order's state to [`ORDER_STATE`] when it differs from the last one written. Called before each step
/// that waits — for a person, for the shipment, for the end — so the attribute names the state the order is in while
/// it waits; states passed through within one workflow task (`received`, `approved`, `charged`: local steps) are not
/// written. (Runs recorded before [`patches::LOCAL_STEPS`] wrote it before every step.)
fn index_state(ctx: &Ctx, indexed: &mut Option<OrderState>) {
    let state = ctx.state(|s| s.order.state());
    if *indexed != Some(state) {
        ctx.upsert_search_attributes([ORDER_STATE.value_set(state.as_str().to_owned())]);
        *indexed = Some(state);
    }
}

/// An activity's result as a command: its value, or why it failed for good.
fn outcome<T>(
    ctx: &Ctx,
    activity: Activity,
    result: Result<T, ActivityExecutionError>,
    ok: impl FnOnce(T) -> Command,
) -> Decision {
    let command = match result {
        Ok(value) => ok(value),
        Err(e) => Command::ActivityFailed {
            activity,
            kind: failure_kind(&e),
            message: describe_failure(e.failure()),
            at: ctx.workflow_time(),
        },
    };
    apply(ctx, command)
}

fn attempt_timeout(ctx: &Ctx) -> Duration {
    ctx.state(|s| s.order.attempt_timeout()).unwrap_or(options::RECEIVE_TIMEOUT)
}

/// Validation, given up as soon as a cancel is accepted. (A local validation learns of the cancel once its attempt
/// ends: the workflow task that would deliver it is the one running the validation.)
async fn validate(ctx: &Ctx, local: bool, input: ValidateInput) -> Decision {
    let token = ctx.cancellation_token().child_token();
    let options = options::business_step(attempt_timeout(ctx)).cancellation_token(&token);
    let mut validation = pin!(step::run(ctx, local, || OrderActivities::validate_order, input, options).fuse());
    let finished = select! {
        result = validation.as_mut() => Some(result),
        _ = ctx.wait_condition(|s: &OrderWorkflow| s.order.cancel_requested()) => None,
    };
    let Some(result) = finished else {
        token.cancel();
        let _ = validation.as_mut().await;
        return apply(ctx, Command::Interrupted);
    };
    let at = ctx.workflow_time();
    outcome(ctx, Activity::ValidateOrder, result, |result| Command::Validated { result, at })
}

/// Waits for an approval or a cancel, at most `timeout`.
async fn await_approval(ctx: &Ctx, timeout: Duration) -> Decision {
    let mut timer = pin!(ctx.timer(timeout));
    let timed_out = select! {
        _ = ctx.wait_condition(|s: &OrderWorkflow| s.order.approval_settled()) => false,
        fired = timer.as_mut() => fired == TimerResult::Fired,
    };
    if !timed_out {
        // A timer that loses the race must be cancelled, or the history keeps it running.
        timer.cancel();
    }
    apply(ctx, Command::ApprovalWaitEnded { timed_out })
}

/// Runs one shipping attempt as a child workflow: approves its dispatch when it asks, cancels it if the order is
/// cancelled first, and reports how it ended.
async fn ship(ctx: &Ctx, mut input: ShippingInput, workflow_id: String, task_queue: String) -> Decision {
    let shipment = input.shipment;
    let delegated = input.delegated;
    // The order as it stands now, after the `shipping` state write: an address changed meanwhile reaches the child.
    input.order = ctx.state(|s| s.order.order().clone());
    // The child has a cancellation token of its own: only this loop cancels it, and only before its dispatch was
    // approved, so a server-side cancel cannot interrupt a dispatch in progress.
    let child_options = ChildWorkflowOptions::builder()
        .workflow_id(workflow_id.clone())
        .task_queue(task_queue)
        .cancel_type(ChildWorkflowCancellationType::WaitCancellationCompleted)
        .cancellation_token(WorkflowCancellationToken::new())
        .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicateFailedOnly)
        .build();
    let started = match ctx.start_child_workflow(ShippingWorkflow::run, input, child_options).await {
        Ok(started) => started,
        Err(e) => {
            let reason = format!("cannot start shipping workflow {workflow_id}: {e}");
            return apply(ctx, Command::ShipmentNotStarted { reason });
        }
    };
    let mut child = pin!(started.result());
    let result = loop {
        let server_cancel = note_server_cancel(ctx);
        if !delegated && ctx.state(|s| s.order.must_finish_shipment()) {
            // Too late to stop the parcel: let the shipment finish.
            break child.as_mut().await;
        }
        if !server_cancel && !delegated {
            select! {
                result = child.as_mut() => break result,
                _ = ctx.wait_condition(|s: &OrderWorkflow| s.order.shipment_needs_driver()) => {},
            }
        }
        match ctx.state(|s| s.order.shipment_step()) {
            Next::CancelShipment { reason } => {
                child.cancel_with_reason(reason);
                let _ = child.as_mut().await;
                return apply(ctx, Command::Interrupted);
            }
            Next::ApproveDispatch { shipment, address } => {
                apply(ctx, Command::DispatchApprovalSent { shipment });
                // On a token of its own: a cancel landing now must not stop the go-ahead the child waits for.
                let signal_options =
                    SignalWorkflowOptions::builder().cancellation_token(WorkflowCancellationToken::new()).build();
                let approval = ctx.external_workflow(workflow_id.clone(), None).signal(
                    ShippingWorkflow::dispatch_approved,
                    DispatchApproval { address },
                    signal_options,
                );
                if let Err(e) = approval.await {
                    let reason = format!("cannot reach the shipping workflow: {e}");
                    apply(ctx, Command::DispatchApprovalUndelivered { shipment, reason });
                }
                continue;
            }
            Next::AskShipment(change) => {
                ask_shipment(ctx, &workflow_id, change).await;
                continue;
            }
            _ => {}
        }
        if delegated {
            // The child holds the dispatch: wait for its end, for a change to ask it, or for the server's cancel
            // (which is asked of it too) — noticed once, and never cutting this wait short.
            let cancel = ctx.cancellation_token();
            let woken =
                move |s: &OrderWorkflow| s.order.shipment_needs_driver() || (!server_cancel && cancel.is_cancelled());
            let options = WaitConditionOptions::builder().cancellation_token(WorkflowCancellationToken::new()).build();
            select! {
                result = child.as_mut() => break result,
                _ = ctx.wait_condition_with_options(woken, options) => {},
            }
        }
    };
    match result {
        Ok(shipped) => apply(ctx, Command::Shipped(shipped)),
        Err(e) => {
            let message = describe_failure(e.failure());
            let end = shipment_end(e.failure());
            apply(ctx, Command::ShipmentFailed { shipment, message, at: ctx.workflow_time(), end })
        }
    }
}

/// Sends change `change` to the delegated shipment's child (`change_shipment`), on a token of its own: a cancel
/// landing now must not stop the question that decides it.
async fn ask_shipment(ctx: &Ctx, workflow_id: &str, change: ShipmentChange) {
    let number = change.change;
    let options = SignalWorkflowOptions::builder().cancellation_token(WorkflowCancellationToken::new()).build();
    let sent = ctx
        .external_workflow(workflow_id.to_owned(), None)
        .signal(ShippingWorkflow::change_shipment, messages::to_raw(Some(&change)), options)
        .await;
    // Not delivered: the child has just ended, and its end answers the change.
    let undelivered = sent.err().map(|e| e.to_string());
    apply(ctx, Command::ShipmentAsked { change: number, undelivered });
}

/// How the run ends in Temporal: a server-side cancel as Canceled, a failure as Failed, anything else completes
/// with the final document.
fn finish(ctx: &Ctx, end: &End) -> WorkflowResult<StatusDocument> {
    match end {
        End::Cancelled { by_server: true, .. } => Err(WorkflowTermination::cancelled()),
        End::Failed { reason } => Err(ApplicationFailure::builder(format!("order failed: {reason}"))
            .type_name("OrderFailed".to_owned())
            .non_retryable(true)
            .build()
            .into()),
        _ => {
            let info = ctx.info();
            let replaying = ctx.is_replaying();
            let doc = ctx.state(|s| s.order.document(info.workflow_id(), info.run_id()));
            ctx.state(|s| s.publication.close(replaying, &doc));
            Ok(doc)
        }
    }
}

/// Bookkeeping of a state no business activity writes; retried until it succeeds (a failure would only leave the
/// table behind the workflow).
async fn record_state(ctx: &Ctx, input: RecordStateInput) {
    let _ = ctx.execute_local_activity(OrderActivities::record_state, input, options::bookkeeping()).await;
}
