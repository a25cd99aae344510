//! `OrderWorkflow`: the order lifecycle.

#![allow(missing_debug_implementations)] // the workflow macros generate marker types
#![allow(clippy::needless_pass_by_value)] // handler signatures are fixed by the workflow macros

use std::collections::BTreeMap;
use std::error::Error;
use std::pin::pin;
use std::time::{Duration, SystemTime};

use temporalio_common::data_converters::RawValue;
use temporalio_common::protos::temporal::api::failure::v1::{Failure, failure::FailureInfo};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflows::select;
use temporalio_sdk::{
    ActivityExecutionError, ApplicationFailure, CancellableFuture, CancellableFutureWithReason,
    ChildWorkflowCancellationType, ChildWorkflowExecutionError, ChildWorkflowOptions, SignalWorkflowOptions,
    SyncWorkflowContext, TimerResult, WorkflowCancellationToken, WorkflowContext, WorkflowContextView,
    WorkflowIdReusePolicy, WorkflowResult, WorkflowTermination,
};

use super::messages::{
    CancelRequest, CommandOutcome, DispatchApproval, DispatchFailed, PackageReady, ShippingInput, ShippingResult,
    decode_optional,
};
use super::options;
use super::shipping::ShippingWorkflow;
use crate::activities::payloads::{ChargeInput, OrderSettings, RecordStateInput, RefundInput, ValidateInput};
use crate::activities::{OrderActivities, failure_types};
use crate::domain::{
    Address, ApprovalStatus, OrderId, OrderInput, OrderState, PaymentState, PaymentStatus, PluginRun, RecentError,
    ShippingStatus, StatusDocument, TimeoutAction, WorkflowStatus,
};

/// How many failures the status document keeps.
const RECENT_ERRORS: usize = 10;

/// The state of one order, as the workflow holds it (and the `status` query reports it).
#[workflow]
pub struct OrderWorkflow {
    order: OrderInput,
    settings: Option<OrderSettings>,
    state: OrderState,
    step: String,
    /// Sequence number of the last state written to the store.
    seq: u32,
    total_cents: Option<u64>,
    payment: PaymentStatus,
    shipping: ShippingStatus,
    approval_deadline: Option<String>,
    approved: bool,
    /// Set by `cancel_order` (signal or update) with its reason.
    cancel: Option<String>,
    /// A dispatch was approved: cancels and address changes are refused from now on (until it fails).
    dispatched: bool,
    /// A shipment whose parcel is packed and waits for the dispatch approval.
    pending_dispatch: Option<u32>,
    /// Why each failed shipment failed, by shipment number.
    dispatch_failures: BTreeMap<u32, String>,
    address_version: u32,
    retries: BTreeMap<String, u32>,
    recent_errors: Vec<RecentError>,
    plugins: BTreeMap<String, PluginRun>,
    notes: Vec<String>,
}

/// How the lifecycle ended.
enum End {
    Shipped,
    Cancelled { reason: String, by_server: bool },
    Rejected { reason: String },
    Failed { reason: String },
}

type Ctx = WorkflowContext<OrderWorkflow>;

#[workflow_methods]
impl OrderWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, order: OrderInput) -> Self {
        let payment = PaymentStatus {
            payment_id: order.payment_id.clone(),
            status: PaymentState::Pending,
            amount_cents: None,
            transaction_id: None,
        };
        OrderWorkflow {
            order,
            settings: None,
            state: OrderState::Received,
            step: "receive_order".into(),
            seq: 1,
            total_cents: None,
            payment,
            shipping: ShippingStatus::default(),
            approval_deadline: None,
            approved: false,
            cancel: None,
            dispatched: false,
            pending_dispatch: None,
            dispatch_failures: BTreeMap::new(),
            address_version: 0,
            retries: BTreeMap::new(),
            recent_errors: Vec::new(),
            plugins: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<StatusDocument> {
        let end = match lifecycle(ctx).await {
            Ok(end) | Err(end) => end,
        };
        finish(ctx, end).await
    }

    // ---- commands as signals: recorded, and ignored with a note when they come too late ----

    /// Approves the order (no payload, or `{}`).
    #[signal]
    pub fn approve_order(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: RawValue) {
        match self.can_approve() {
            Ok(()) => self.approved = true,
            Err(why) => self.notes.push(format!("approve_order ignored: {why}")),
        }
    }

    /// Cancels the order (`{"reason"?}`), with a refund if it was charged.
    #[signal]
    pub fn cancel_order(&mut self, _ctx: &mut SyncWorkflowContext<Self>, input: RawValue) {
        let request = decode_optional::<CancelRequest>(&input).ok().flatten().unwrap_or_default();
        match self.can_cancel() {
            Ok(()) => self.request_cancel(request.reason),
            Err(why) => self.notes.push(format!("cancel_order ignored: {why}")),
        }
    }

    /// Changes the delivery address (`{"street","city","state","zip_code"}`).
    #[signal]
    pub fn update_address(&mut self, _ctx: &mut SyncWorkflowContext<Self>, input: RawValue) {
        match self.parse_address_update(&input) {
            Ok(address) => self.set_address(address),
            Err(why) => self.notes.push(format!("update_address ignored: {why}")),
        }
    }

    // ---- the same commands as updates: the caller learns "accepted" or "rejected and why" ----

    #[update_validator(approve_order_update)]
    fn validate_approve(
        &self,
        _ctx: &WorkflowContextView,
        _input: &RawValue,
    ) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.can_approve().map_err(Into::into)
    }

    #[update(name = "approve_order")]
    pub fn approve_order_update(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: RawValue) -> CommandOutcome {
        self.approved = true;
        self.outcome("approve_order", "approved")
    }

    #[update_validator(cancel_order_update)]
    fn validate_cancel(
        &self,
        _ctx: &WorkflowContextView,
        input: &RawValue,
    ) -> Result<(), Box<dyn Error + Send + Sync>> {
        decode_optional::<CancelRequest>(input)?;
        self.can_cancel().map_err(Into::into)
    }

    #[update(name = "cancel_order")]
    pub fn cancel_order_update(&mut self, _ctx: &mut SyncWorkflowContext<Self>, input: RawValue) -> CommandOutcome {
        let request = decode_optional::<CancelRequest>(&input).ok().flatten().unwrap_or_default();
        self.request_cancel(request.reason);
        let refund = if self.payment.status == PaymentState::Charged { "; the payment will be refunded" } else { "" };
        self.outcome("cancel_order", &format!("cancellation accepted{refund}"))
    }

    #[update_validator(update_address_update)]
    fn validate_address(
        &self,
        _ctx: &WorkflowContextView,
        input: &RawValue,
    ) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.parse_address_update(input).map(|_| ()).map_err(Into::into)
    }

    #[update(name = "update_address")]
    pub fn update_address_update(&mut self, _ctx: &mut SyncWorkflowContext<Self>, input: RawValue) -> CommandOutcome {
        if let Ok(address) = self.parse_address_update(&input) {
            self.set_address(address);
        }
        self.outcome("update_address", "address updated; it will be used for dispatch")
    }

    // ---- child → parent ----

    /// The shipping child reports that a shipment cannot be dispatched (`{"reason"}`).
    #[signal]
    pub fn dispatch_failed(&mut self, _ctx: &mut SyncWorkflowContext<Self>, input: DispatchFailed) {
        let shipment = if input.shipment == 0 { self.shipping.attempt } else { input.shipment };
        self.dispatch_failures.insert(shipment, input.reason);
        if self.pending_dispatch == Some(shipment) {
            self.pending_dispatch = None;
        }
        self.dispatched = false;
    }

    /// The shipping child has packed the parcel and asks whether it may dispatch. From here on the order can no
    /// longer be cancelled or re-addressed, unless the cancel came first.
    #[signal]
    pub fn package_ready(&mut self, _ctx: &mut SyncWorkflowContext<Self>, input: PackageReady) {
        self.shipping.package_id = Some(input.package_id);
        if self.cancel.is_none() && input.shipment == self.shipping.attempt {
            self.dispatched = true;
            self.pending_dispatch = Some(input.shipment);
        }
    }

    /// The status document.
    #[query]
    pub fn status(&self, ctx: &WorkflowContextView) -> StatusDocument {
        self.document(ctx.workflow_id(), ctx.run_id())
    }
}

impl OrderWorkflow {
    fn can_approve(&self) -> Result<(), String> {
        if self.state.is_terminal() {
            return Err(format!("not awaiting approval: the order is {}", self.state));
        }
        if self.cancel.is_some() {
            return Err("not awaiting approval: the order is being cancelled".into());
        }
        if self.approved {
            return Err(format!("not awaiting approval: the order is already approved (state {})", self.state));
        }
        match self.state {
            OrderState::Received | OrderState::Validated | OrderState::AwaitingApproval => Ok(()),
            other => Err(format!("not awaiting approval: the order is {other}")),
        }
    }

    fn can_cancel(&self) -> Result<(), String> {
        if self.state.is_terminal() {
            return Err(format!("the order is already {}", self.state));
        }
        if self.dispatched {
            return Err("the package has already been dispatched".into());
        }
        Ok(())
    }

    fn request_cancel(&mut self, reason: Option<String>) {
        if self.cancel.is_none() {
            self.cancel =
                Some(reason.filter(|r| !r.trim().is_empty()).unwrap_or_else(|| "cancelled by request".into()));
        }
    }

    fn parse_address_update(&self, input: &RawValue) -> Result<Address, String> {
        if self.state.is_terminal() {
            return Err(format!("the order is already {}", self.state));
        }
        if self.dispatched {
            return Err("the package has already been dispatched".into());
        }
        let raw = decode_optional::<Address>(input)?.ok_or("an address is required: street, city, state, zip_code")?;
        Address::parse(&raw).map_err(|e| e.to_string())
    }

    fn set_address(&mut self, address: Address) {
        self.order.address = address;
        self.address_version += 1;
    }

    fn outcome(&self, command: &str, message: &str) -> CommandOutcome {
        CommandOutcome {
            order_id: self.order.order_id.clone(),
            command: command.into(),
            state: self.state,
            message: message.into(),
        }
    }

    fn document(&self, workflow_id: &str, run_id: &str) -> StatusDocument {
        let status = match self.state {
            OrderState::Failed => "FAILED",
            s if s.is_terminal() => "COMPLETED",
            _ => "RUNNING",
        };
        StatusDocument {
            order_id: self.order.order_id.clone(),
            state: self.state,
            step: self.step.clone(),
            items: self.order.items.clone(),
            address: self.order.address.clone(),
            total_cents: self.total_cents,
            payment: self.payment.clone(),
            shipping: self.shipping.clone(),
            approval: ApprovalStatus { deadline: self.approval_deadline.clone(), approved: self.approved },
            retries: self.retries.clone(),
            recent_errors: self.recent_errors.clone(),
            plugins: self.plugins.clone(),
            workflow: WorkflowStatus { workflow_id: workflow_id.into(), run_id: run_id.into(), status: status.into() },
            notes: self.notes.clone(),
        }
    }

    fn count_retries(&mut self, activity: &str, attempt: u32) {
        if attempt > 1 {
            *self.retries.entry(activity.into()).or_default() += attempt - 1;
        }
    }

    fn record_error(&mut self, activity: &str, attempt: u32, message: String, at: Option<SystemTime>) {
        let at = at.map(|t| humantime::format_rfc3339_millis(t).to_string()).unwrap_or_default();
        self.recent_errors.push(RecentError { activity: activity.into(), attempt, message, at });
        if self.recent_errors.len() > RECENT_ERRORS {
            self.recent_errors.remove(0);
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }
}

/// The lifecycle up to its end; `Err` carries an early end (cancel, rejection, failure).
async fn lifecycle(ctx: &Ctx) -> Result<End, End> {
    let settings = receive(ctx).await?;
    let attempt_timeout = Duration::from_millis(settings.activity_timeout_ms);
    check_cancel(ctx)?;
    validate(ctx, attempt_timeout).await?;
    await_approval(ctx, &settings).await?;
    charge(ctx, attempt_timeout).await?;
    check_cancel(ctx)?;
    ship(ctx, &settings).await
}

async fn receive(ctx: &Ctx) -> Result<OrderSettings, End> {
    let order = ctx.state(|s| s.order.clone());
    match ctx.execute_activity(OrderActivities::receive_order, order, options::business(options::RECEIVE_TIMEOUT)).await
    {
        Ok(received) => {
            ctx.state_mut(|s| {
                s.count_retries("receive_order", received.attempt);
                s.settings = Some(received.settings.clone());
            });
            Ok(received.settings)
        }
        Err(e) => Err(activity_end(ctx, "receive_order", &e)),
    }
}

async fn validate(ctx: &Ctx, attempt_timeout: Duration) -> Result<(), End> {
    let (order, version) = ctx.state_mut(|s| {
        s.step = "validate_order".into();
        (s.order.clone(), s.address_version)
    });
    let seq = ctx.state_mut(OrderWorkflow::next_seq);
    let mut validation = pin!(ctx.execute_activity(
        OrderActivities::validate_order,
        ValidateInput { order, seq },
        options::business(attempt_timeout),
    ));
    let finished = select! {
        result = validation.as_mut() => Some(result),
        _ = ctx.wait_condition(|s: &OrderWorkflow| s.cancel.is_some()) => None,
    };
    let Some(validated) = finished else {
        validation.cancel();
        let _ = validation.as_mut().await;
        return Err(cancelled(ctx));
    };
    match validated {
        Ok(v) => {
            ctx.state_mut(|s| {
                s.count_retries("validate_order", v.attempt);
                s.plugins.insert("validation".into(), v.plugin.clone());
                s.total_cents = Some(v.total_cents);
                s.payment.amount_cents = Some(v.total_cents);
                s.order.items.clone_from(&v.order.items);
                if s.address_version == version {
                    s.order.address = v.order.address.clone();
                }
                s.state = OrderState::Validated;
            });
            Ok(())
        }
        Err(e) => Err(activity_end(ctx, "validate_order", &e)),
    }
}

async fn await_approval(ctx: &Ctx, settings: &OrderSettings) -> Result<(), End> {
    check_cancel(ctx)?;
    if !ctx.state(|s| s.approved) {
        let timeout = Duration::from_millis(settings.approval_timeout_ms);
        let deadline = ctx.workflow_time().map(|now| humantime::format_rfc3339_seconds(now + timeout).to_string());
        ctx.state_mut(|s| s.approval_deadline = deadline);
        record_state(ctx, OrderState::AwaitingApproval, "manual_review", None).await;
        let mut timer = pin!(ctx.timer(timeout));
        let timed_out = select! {
            _ = ctx.wait_condition(|s: &OrderWorkflow| s.approved || s.cancel.is_some()) => false,
            fired = timer.as_mut() => fired == TimerResult::Fired,
        };
        if timed_out {
            match settings.approval_timeout_action {
                TimeoutAction::Approve => ctx.state_mut(|s| {
                    s.approved = true;
                    s.notes.push("approved automatically: the approval timeout passed".into());
                }),
                TimeoutAction::Cancel => ctx.state_mut(|s| s.request_cancel(Some("approval timed out".into()))),
            }
        } else {
            // A timer that loses the race must be cancelled, or the history keeps it running.
            timer.cancel();
        }
        // A server-side cancellation ends the wait with neither condition true.
        if ctx.cancellation_token().is_cancelled() {
            return Err(cancelled(ctx));
        }
    }
    check_cancel(ctx)?;
    record_state(ctx, OrderState::Approved, "charge_payment", None).await;
    Ok(())
}

async fn charge(ctx: &Ctx, attempt_timeout: Duration) -> Result<(), End> {
    let (order_id, payment_id, amount_cents) = ctx.state(|s| {
        (s.order.order_id.clone(), s.order.payment_id.clone(), s.total_cents.unwrap_or_else(|| s.order.total_cents()))
    });
    let seq = ctx.state_mut(OrderWorkflow::next_seq);
    // Money is never raced against a cancel, not even the server's: the charge finishes on a token of its own, then
    // a cancel refunds it.
    let input = ChargeInput { order_id, payment_id, amount_cents, seq };
    match ctx.execute_activity(OrderActivities::charge_payment, input, options::detached(attempt_timeout)).await {
        Ok(charged) => {
            ctx.state_mut(|s| {
                s.count_retries("charge_payment", charged.attempt);
                if let Some(plugin) = &charged.plugin {
                    s.plugins.insert("payment".into(), plugin.clone());
                }
                s.payment.status = PaymentState::Charged;
                s.payment.amount_cents = Some(charged.amount_cents);
                s.payment.transaction_id = Some(charged.transaction_id.clone());
                s.state = OrderState::Charged;
                s.step = "charge_payment".into();
            });
            Ok(())
        }
        Err(e) => {
            let end = activity_end(ctx, "charge_payment", &e);
            if matches!(end, End::Rejected { .. }) {
                ctx.state_mut(|s| s.payment.status = PaymentState::Declined);
            }
            Err(end)
        }
    }
}

async fn ship(ctx: &Ctx, settings: &OrderSettings) -> Result<End, End> {
    let order_id =
        OrderId::parse(&ctx.state(|s| s.order.order_id.clone())).map_err(|e| End::Failed { reason: e.to_string() })?;
    for shipment in 1..=settings.max_shipping_attempts {
        check_cancel(ctx)?;
        match run_shipment(ctx, settings, &order_id, shipment).await? {
            Ok(result) => {
                ctx.state_mut(|s| {
                    for (activity, n) in &result.retries {
                        *s.retries.entry(activity.clone()).or_default() += n;
                    }
                    s.plugins.insert("shipping".into(), result.plugin.clone());
                    s.shipping.package_id = Some(result.package_id.clone());
                    s.shipping.carrier = Some(result.carrier.clone());
                    s.shipping.tracking = Some(result.tracking.clone());
                    s.state = OrderState::Shipped;
                    s.step = "shipped".into();
                });
                return Ok(End::Shipped);
            }
            Err(e) => {
                let now = ctx.workflow_time();
                ctx.state_mut(|s| {
                    let reason =
                        s.dispatch_failures.get(&shipment).cloned().unwrap_or_else(|| describe_failure(e.failure()));
                    s.dispatch_failures.insert(shipment, reason.clone());
                    s.record_error("dispatch_carrier", shipment, format!("shipment {shipment} failed: {reason}"), now);
                    s.dispatched = false;
                    s.pending_dispatch = None;
                });
                if ctx.cancellation_token().is_cancelled() {
                    return Err(cancelled(ctx));
                }
            }
        }
    }
    let reasons = ctx.state(|s| s.dispatch_failures.values().cloned().collect::<Vec<_>>().join("; "));
    Err(End::Failed { reason: format!("shipping failed {} time(s): {reasons}", settings.max_shipping_attempts) })
}

/// Runs shipping attempt `shipment` as a child workflow, approving its dispatch when it asks, or cancelling it if
/// the order is cancelled first. The outer `Err` ends the order (cancelled); the inner result is the child's.
async fn run_shipment(
    ctx: &Ctx,
    settings: &OrderSettings,
    order_id: &OrderId,
    shipment: u32,
) -> Result<Result<ShippingResult, ChildWorkflowExecutionError>, End> {
    ctx.state_mut(|s| {
        s.shipping = ShippingStatus { attempt: shipment, ..ShippingStatus::default() };
        s.pending_dispatch = None;
        s.dispatched = false;
    });
    record_state(ctx, OrderState::Shipping, "prepare_package", None).await;
    let shipped_seq = ctx.state_mut(OrderWorkflow::next_seq);
    let input = ShippingInput {
        order: ctx.state(|s| s.order.clone()),
        shipment,
        parent_workflow_id: order_id.to_string(),
        shipped_seq,
        activity_timeout_ms: settings.activity_timeout_ms,
    };
    let child_id = order_id.shipping_workflow_id(shipment);
    // The child has a cancellation token of its own: only this loop cancels it, and only before its dispatch was
    // approved, so a server-side cancel cannot interrupt a dispatch in progress.
    let child_options = ChildWorkflowOptions::builder()
        .workflow_id(child_id.clone())
        .task_queue(settings.shipping_task_queue.clone())
        .cancel_type(ChildWorkflowCancellationType::WaitCancellationCompleted)
        .cancellation_token(WorkflowCancellationToken::new())
        .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicateFailedOnly)
        .build();
    let started = match ctx.start_child_workflow(ShippingWorkflow::run, input, child_options).await {
        Ok(started) => started,
        Err(e) => return Err(End::Failed { reason: format!("cannot start shipping workflow {child_id}: {e}") }),
    };
    let mut child = pin!(started.result());
    loop {
        let server_cancel = ctx.cancellation_token().is_cancelled();
        if server_cancel && ctx.state(|s| s.dispatched) {
            // Too late to stop the parcel: let the shipment finish.
            return Ok(child.as_mut().await);
        }
        let news = if server_cancel {
            None
        } else {
            select! {
                result = child.as_mut() => Some(result),
                _ = ctx.wait_condition(|s: &OrderWorkflow| {
                    s.pending_dispatch.is_some() || (s.cancel.is_some() && !s.dispatched)
                }) => None,
            }
        };
        if let Some(result) = news {
            return Ok(result);
        }
        let cancel_now = server_cancel || ctx.state(|s| s.cancel.is_some());
        if cancel_now && !ctx.state(|s| s.dispatched) {
            child.cancel_with_reason(ctx.state(|s| s.cancel.clone()).unwrap_or_else(|| "order cancelled".into()));
            let _ = child.as_mut().await;
            return Err(cancelled(ctx));
        }
        if let Some(n) = ctx.state_mut(|s| s.pending_dispatch.take()) {
            ctx.state_mut(|s| s.step = "dispatch_carrier".into());
            let address = ctx.state(|s| s.order.address.clone());
            let approval = ctx.external_workflow(child_id.clone(), None).signal(
                ShippingWorkflow::dispatch_approved,
                DispatchApproval { address },
                SignalWorkflowOptions::default(),
            );
            if let Err(e) = approval.await {
                let reason = format!("cannot reach the shipping workflow: {e}");
                ctx.state_mut(|s| s.dispatch_failures.insert(n, reason));
            }
        }
    }
}

/// Ends the lifecycle: compensates, records the final state, and returns the final document (or fails the run).
async fn finish(ctx: &Ctx, end: End) -> WorkflowResult<StatusDocument> {
    let charged = ctx.state(|s| s.payment.status == PaymentState::Charged);
    let (state, message, failure, by_server) = match &end {
        End::Shipped => (OrderState::Shipped, None, None, false),
        End::Cancelled { reason, by_server } => (OrderState::Cancelled, Some(reason.clone()), None, *by_server),
        End::Rejected { reason } => (OrderState::Rejected, Some(reason.clone()), None, false),
        End::Failed { reason } => (OrderState::Failed, Some(reason.clone()), Some(reason.clone()), false),
    };
    if charged && !matches!(end, End::Shipped) {
        refund(ctx, message.clone().unwrap_or_default()).await;
    }
    if !matches!(end, End::Shipped) {
        record_state(ctx, state, &state.to_string(), message).await;
    }
    ctx.state_mut(|s| {
        s.state = state;
        s.step = state.to_string();
    });
    if by_server {
        return Err(WorkflowTermination::cancelled());
    }
    if let Some(reason) = failure {
        return Err(ApplicationFailure::builder(format!("order failed: {reason}"))
            .type_name("OrderFailed".to_owned())
            .non_retryable(true)
            .build()
            .into());
    }
    let info = ctx.info();
    Ok(ctx.state(|s| s.document(info.workflow_id(), info.run_id())))
}

/// Compensation: gives the money back, on a token of its own so a cancelled workflow still refunds.
async fn refund(ctx: &Ctx, reason: String) {
    let (order_id, payment_id, transaction_id, amount_cents, timeout) = ctx.state(|s| {
        (
            s.order.order_id.clone(),
            s.order.payment_id.clone(),
            s.payment.transaction_id.clone().unwrap_or_default(),
            s.payment.amount_cents.unwrap_or_default(),
            s.settings.as_ref().map_or(options::RECEIVE_TIMEOUT, |x| Duration::from_millis(x.activity_timeout_ms)),
        )
    });
    ctx.state_mut(|s| s.step = "refund_payment".into());
    let input = RefundInput { order_id, payment_id, transaction_id, amount_cents, reason };
    match ctx.execute_activity(OrderActivities::refund_payment, input, options::compensation(timeout)).await {
        Ok(refunded) => ctx.state_mut(|s| {
            s.count_retries("refund_payment", refunded.attempt);
            s.payment.status = PaymentState::Refunded;
            if let Some(plugin) = refunded.plugin {
                s.plugins.insert("payment".into(), plugin);
            }
        }),
        Err(e) => {
            let now = ctx.workflow_time();
            ctx.state_mut(|s| s.record_error("refund_payment", 0, describe_failure(e.failure()), now));
        }
    }
}

/// Writes a state no business activity writes, with the current address.
async fn record_state(ctx: &Ctx, state: OrderState, step: &str, message: Option<String>) {
    let seq = ctx.state_mut(|s| {
        s.state = state;
        s.step = step.into();
        s.next_seq()
    });
    let input = RecordStateInput {
        order_id: ctx.state(|s| s.order.order_id.clone()),
        seq,
        state,
        step: step.into(),
        message,
        address: Some(ctx.state(|s| s.order.address.clone())),
    };
    // Bookkeeping retries until it succeeds; a failure here would only leave the table behind the workflow.
    let _ = ctx.execute_local_activity(OrderActivities::record_state, input, options::bookkeeping()).await;
}

fn check_cancel(ctx: &Ctx) -> Result<(), End> {
    if ctx.state(|s| s.cancel.is_some()) || ctx.cancellation_token().is_cancelled() {
        return Err(cancelled(ctx));
    }
    Ok(())
}

fn cancelled(ctx: &Ctx) -> End {
    match ctx.state(|s| s.cancel.clone()) {
        Some(reason) => End::Cancelled { reason, by_server: false },
        None => End::Cancelled {
            reason: ctx.cancellation_token().reason().unwrap_or_else(|| "workflow cancelled".into()),
            by_server: true,
        },
    }
}

/// How an activity's final failure ends the order: the plugin's permanent "no" rejects it, a cancellation cancels
/// it, anything else fails it.
fn activity_end(ctx: &Ctx, activity: &str, error: &ActivityExecutionError) -> End {
    if matches!(error, ActivityExecutionError::Cancelled(_)) {
        return cancelled(ctx);
    }
    let reason = describe_failure(error.failure());
    let now = ctx.workflow_time();
    ctx.state_mut(|s| s.record_error(activity, 0, reason.clone(), now));
    if application_type(error.failure()) == Some(failure_types::PLUGIN_PERMANENT) {
        End::Rejected { reason }
    } else {
        End::Failed { reason: format!("{activity}: {reason}") }
    }
}

/// The innermost failure's message (an activity failure wraps the application failure that explains it).
pub(super) fn describe_failure(failure: Option<&Failure>) -> String {
    let mut current = failure;
    let mut message = String::from("unknown failure");
    while let Some(f) = current {
        if !f.message.is_empty() {
            message.clone_from(&f.message);
        }
        current = f.cause.as_deref();
    }
    message
}

/// The `type` of the innermost application failure, if any.
fn application_type(failure: Option<&Failure>) -> Option<&str> {
    let mut current = failure;
    let mut found = None;
    while let Some(f) = current {
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &f.failure_info {
            found = Some(info.r#type.as_str());
        }
        current = f.cause.as_deref();
    }
    found
}
