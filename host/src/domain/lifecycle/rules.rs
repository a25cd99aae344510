//! The rules: one transition per command. Called on a copy by [`Lifecycle::apply`], so a refusal changes nothing.

use std::time::SystemTime;

use super::{
    Ask, Change, Command, Decision, Dispatch, End, Lifecycle, Next, RECENT_ERRORS, Refusal, ShipmentEnd, Stage,
};

/// The answer to a cancel that will stop a charged order.
const CANCEL_TAKEN: &str = "cancellation accepted; the payment will be refunded";
/// The answer to an address change that will reach the dispatch.
const ADDRESS_TAKEN: &str = "address updated; it will be used for dispatch";
use crate::domain::payloads::{CommandOutcome, RecordStateInput, ShippingResult, ValidateInput};
use crate::domain::{Activity, OrderState, PaymentState, RecentError, TimeoutAction};

impl Lifecycle {
    pub(super) fn transition(&mut self, command: Command) -> Result<Decision, Refusal> {
        match command {
            Command::Approve | Command::Cancel { .. } | Command::UpdateAddress(_) => self.person(command),
            Command::PackageReady { .. }
            | Command::DispatchFailed { .. }
            | Command::ShipmentAnswered { .. }
            | Command::ShipmentAsked { .. }
            | Command::DispatchApprovalSent { .. }
            | Command::DispatchApprovalUndelivered { .. }
            | Command::ShipmentNotStarted { .. }
            | Command::Shipped(_)
            | Command::ShipmentFailed { .. } => self.shipment(command),
            _ => self.progress(command),
        }
    }

    /// Approve, cancel, change the address.
    fn person(&mut self, command: Command) -> Result<Decision, Refusal> {
        match command {
            Command::Approve => {
                self.can_approve()?;
                self.approved = true;
                Ok(Decision::answer("approved"))
            }
            Command::Cancel { reason } => {
                self.can_change()?;
                if let Some(shipment) = self.delegated_shipment() {
                    return Ok(Decision::ask(self.ask(shipment, Change::Stop { reason, by_server: false })));
                }
                let refund = self.payment.status == PaymentState::Charged;
                self.request_cancel(reason);
                Ok(Decision::answer(if refund { CANCEL_TAKEN } else { "cancellation accepted" }))
            }
            Command::UpdateAddress(address) => {
                self.can_change()?;
                if let Some(shipment) = self.delegated_shipment() {
                    return Ok(Decision::ask(self.ask(shipment, Change::Address(address))));
                }
                self.order.address = address;
                self.address_version += 1;
                Ok(Decision::answer(ADDRESS_TAKEN))
            }
            other => unreachable!("{} is not a person's command", other.name()),
        }
    }

    /// The shipping child's news and the dispatch handshake.
    fn shipment(&mut self, command: Command) -> Result<Decision, Refusal> {
        let name = command.name();
        let unexpected = |stage: &Stage| Refusal::Unexpected { command: name, stage: stage.name() };
        match command {
            Command::PackageReady { shipment, package_id } => {
                self.shipping.package_id = Some(package_id);
                if self.delegated_shipment().is_some() {
                    // Anyone can send this signal: a delegated shipment is never handed back to the handshake (which
                    // would let a cancel through while the child dispatches).
                    return Err(Refusal::Invalid(format!("shipment {shipment} dispatches without asking")));
                }
                let no_cancel = self.cancel.is_none();
                if let Stage::Shipping { shipment: current, dispatch } = &mut self.stage
                    && *current == shipment
                    && no_cancel
                {
                    *dispatch = Dispatch::Ready;
                }
                Ok(Decision::next(Next::Continue))
            }
            Command::DispatchFailed { shipment, reason } => {
                let guarded = self.guarded();
                let Stage::Shipping { shipment: current, dispatch } = &mut self.stage else {
                    return Err(Refusal::NotCurrentShipment { shipment, current: self.shipping.attempt });
                };
                let shipment = if shipment == 0 { *current } else { shipment };
                if shipment != *current {
                    return Err(Refusal::NotCurrentShipment { shipment, current: *current });
                }
                // After the go-ahead the child may be handing the parcel over: the order stays committed (no
                // cancel, no new address) until the child itself has ended. Anyone can send this signal.
                if !dispatch.went_ahead() || !guarded {
                    *dispatch = Dispatch::Failed;
                }
                self.dispatch_failures.insert(shipment, reason);
                Ok(Decision::next(Next::Continue))
            }
            Command::DispatchApprovalSent { shipment } => match &mut self.stage {
                Stage::Shipping { shipment: current, dispatch } if *current == shipment => {
                    *dispatch = Dispatch::Approved;
                    Activity::DispatchCarrier.name().clone_into(&mut self.step);
                    Ok(Decision::next(Next::Continue))
                }
                stage => Err(unexpected(stage)),
            },
            Command::ShipmentAnswered { shipment, change, taken } => self.shipment_answered(shipment, change, taken),
            Command::ShipmentAsked { change, undelivered } => {
                if let Some(ask) = self.asks.get_mut(&change) {
                    ask.sent = true;
                }
                if let Some(reason) = undelivered {
                    self.notes.push(format!("change {change} did not reach the shipment ({reason}); its end answers"));
                }
                Ok(Decision::next(Next::Continue))
            }
            Command::DispatchApprovalUndelivered { shipment, reason } => {
                self.dispatch_failures.insert(shipment, reason);
                Ok(Decision::next(Next::Continue))
            }
            Command::ShipmentNotStarted { reason } => {
                if !matches!(self.stage, Stage::Shipping { .. }) {
                    return Err(unexpected(&self.stage));
                }
                Ok(self.end(End::Failed { reason }))
            }
            Command::Shipped(result) => self.shipped(result),
            Command::ShipmentFailed { shipment, message, at, end } => {
                let Stage::Shipping { shipment: current, dispatch } = self.stage else {
                    return Err(unexpected(&self.stage));
                };
                if current != shipment {
                    return Err(Refusal::NotCurrentShipment { shipment, current });
                }
                if matches!(dispatch, Dispatch::Delegated | Dispatch::Dispatching)
                    && let Some(decision) = self.delegated_shipment_failed(shipment, &message, at, end)
                {
                    return Ok(decision);
                }
                let approved = matches!(self.stage, Stage::Shipping { dispatch: Dispatch::Approved, .. });
                let reported = self.dispatch_failures.contains_key(&shipment) && end == ShipmentEnd::DispatchFailed;
                if self.guarded() && approved && !reported {
                    // Nothing said the dispatch failed: it may have happened. Never a second dispatch.
                    self.parcel_may_be_out = true;
                    self.record_error(Activity::ShipOrder, shipment, message.clone(), at);
                    return Ok(self.end(End::Failed { reason: format!("shipment {shipment} failed: {message}") }));
                }
                let reason = self.dispatch_failures.get(&shipment).cloned().unwrap_or(message);
                self.dispatch_failures.insert(shipment, reason.clone());
                let error = format!("shipment {shipment} failed: {reason}");
                self.record_error(Activity::DispatchCarrier, shipment, error, at);
                self.stage = Stage::Shipping { shipment, dispatch: Dispatch::Failed };
                if self.server_cancel.is_some() {
                    return Ok(self.end(self.cancelled()));
                }
                Ok(self.begin_shipment(shipment + 1))
            }
            other => unreachable!("{} is not about a shipment", other.name()),
        }
    }

    /// The shipping child finished: the parcel is out, whatever was still asked of it is refused.
    fn shipped(&mut self, result: ShippingResult) -> Result<Decision, Refusal> {
        let Stage::Shipping { shipment, .. } = self.stage else {
            return Err(Refusal::Unexpected { command: "shipped", stage: self.stage.name() });
        };
        self.refuse_asks(shipment, &Refusal::Dispatched);
        if let Some(address) = result.address {
            self.order.address = address;
        }
        for (activity, n) in result.retries {
            *self.retries.entry(activity).or_default() += n;
        }
        self.plugins.insert("shipping".into(), result.plugin);
        self.shipping.package_id = Some(result.package_id);
        self.shipping.carrier = Some(result.carrier);
        self.shipping.tracking = Some(result.tracking);
        self.state = OrderState::Shipped;
        "shipped".clone_into(&mut self.step);
        Ok(self.end(End::Shipped))
    }

    /// A delegated shipment's child answered change `change` (`taken: false`: its dispatch has begun).
    fn shipment_answered(&mut self, shipment: u32, change: u32, taken: bool) -> Result<Decision, Refusal> {
        let Stage::Shipping { shipment: current, dispatch } = self.stage else {
            return Err(Refusal::NotCurrentShipment { shipment, current: self.shipping.attempt });
        };
        if shipment != current {
            return Err(Refusal::NotCurrentShipment { shipment, current });
        }
        let Some(asked) = self.asks.get(&change).filter(|a| a.shipment == shipment && a.answer.is_none()) else {
            return Err(Refusal::Invalid(format!("no change {change} of shipment {shipment} awaits an answer")));
        };
        if !taken {
            self.stage = Stage::Shipping { shipment, dispatch: Dispatch::Dispatching };
            Activity::DispatchCarrier.name().clone_into(&mut self.step);
            self.refuse_asks(shipment, &Refusal::Dispatched);
        } else if let (Change::Address(address), Dispatch::Delegated) = (asked.change.clone(), dispatch) {
            self.order.address = address;
            self.address_version += 1;
            self.resolve(change, Ok(ADDRESS_TAKEN.into()));
        }
        // A stop is answered by the child's end, never by its word: it ends cancelled only before its dispatch, so a
        // forged answer cannot refund a parcel on its way.
        Ok(Decision::next(Next::Continue))
    }

    /// A delegated shipment's child ended without shipping. Only its own end says nothing was dispatched: it ends
    /// cancelled only before its dispatch, and as `DispatchFailed` only when its dispatch failed (signals can be
    /// forged). Then every change asked of it holds, and a stop it took cancels the order (`Some`); otherwise
    /// (`None`) the shipment failed like any other. Anything else: the parcel may be out.
    fn delegated_shipment_failed(
        &mut self,
        shipment: u32,
        message: &str,
        at: Option<SystemTime>,
        end: ShipmentEnd,
    ) -> Option<Decision> {
        if end == ShipmentEnd::Other {
            self.refuse_asks(shipment, &Refusal::Dispatched);
            self.parcel_may_be_out = true;
            self.record_error(Activity::ShipOrder, shipment, message.to_owned(), at);
            return Some(self.end(End::Failed { reason: format!("shipment {shipment} failed: {message}") }));
        }
        let stop_asked = self
            .asks
            .values()
            .any(|a| a.shipment == shipment && a.answer.is_none() && matches!(a.change, Change::Stop { .. }));
        self.take_asks(shipment);
        if end == ShipmentEnd::Cancelled && stop_asked {
            // Stopped as asked: the order is cancelled and refunded.
            self.stage = Stage::Shipping { shipment, dispatch: Dispatch::Failed };
            return Some(self.end(self.cancelled()));
        }
        None
    }

    /// The server, timers and the business activities move the order along.
    fn progress(&mut self, command: Command) -> Result<Decision, Refusal> {
        let name = command.name();
        let unexpected = |stage: &Stage| Refusal::Unexpected { command: name, stage: stage.name() };
        match command {
            Command::ServerCancelled { reason } => {
                if self.server_cancel.is_none()
                    && let Some(shipment) = self.delegated_shipment()
                {
                    let change = self.ask(shipment, Change::Stop { reason: None, by_server: true });
                    self.asked_by_signal(change);
                }
                self.server_cancel.get_or_insert(reason);
                Ok(Decision::next(Next::Continue))
            }
            Command::ApprovalWaitEnded { timed_out } => {
                if !matches!(self.stage, Stage::AwaitingApproval { .. }) {
                    return Err(unexpected(&self.stage));
                }
                if timed_out {
                    match self.settings().approval_timeout_action {
                        TimeoutAction::Approve => {
                            self.approved = true;
                            self.notes.push("approved automatically: the approval timeout passed".into());
                        }
                        TimeoutAction::Cancel => self.request_cancel(Some("approval timed out".into())),
                    }
                }
                Ok(self.approval_settled_then_charge())
            }
            Command::Interrupted => Ok(self.cancel_before_charge()),
            Command::Received(received) => {
                if self.stage != Stage::Receiving {
                    return Err(unexpected(&self.stage));
                }
                self.count_retries(Activity::ReceiveOrder, received.attempt);
                self.settings = Some(received.settings);
                if self.cancel_pending() {
                    return Ok(self.cancel_before_charge());
                }
                self.stage = Stage::Validating { address_version: self.address_version };
                Activity::ValidateOrder.name().clone_into(&mut self.step);
                let seq = self.next_seq();
                Ok(Decision::next(Next::Validate(ValidateInput { order: self.order.clone(), seq })))
            }
            Command::Validated { result, at } => {
                let Stage::Validating { address_version } = self.stage else { return Err(unexpected(&self.stage)) };
                self.count_retries(Activity::ValidateOrder, result.attempt);
                self.plugins.insert("validation".into(), result.plugin);
                self.total_cents = Some(result.total_cents);
                self.payment.amount_cents = Some(result.total_cents);
                self.order.items = result.order.items;
                if self.address_version == address_version {
                    self.order.address = result.order.address;
                }
                self.state = OrderState::Validated;
                Ok(self.await_approval(at))
            }
            Command::Charged(charged) => {
                if self.stage != Stage::Charging {
                    return Err(unexpected(&self.stage));
                }
                self.count_retries(Activity::ChargePayment, charged.attempt);
                if let Some(plugin) = charged.plugin {
                    self.plugins.insert("payment".into(), plugin);
                }
                self.payment.status = PaymentState::Charged;
                self.payment.amount_cents = Some(charged.amount_cents);
                self.payment.transaction_id = Some(charged.transaction_id);
                self.state = OrderState::Charged;
                Activity::ChargePayment.name().clone_into(&mut self.step);
                Ok(self.begin_shipment(1))
            }
            Command::Refunded(refunded) => {
                let Stage::Compensating(end) = self.stage.clone() else { return Err(unexpected(&self.stage)) };
                self.count_retries(Activity::RefundPayment, refunded.attempt);
                // An empty refund id: no payment was ever recorded, so none was taken and none given back.
                if !refunded.refund_id.is_empty() {
                    self.payment.status = PaymentState::Refunded;
                }
                if let Some(plugin) = refunded.plugin {
                    self.plugins.insert("payment".into(), plugin);
                }
                Ok(self.finalize(end))
            }
            Command::ActivityFailed { activity, kind, message, at } => {
                self.activity_failed(activity, kind, message, at)
            }
            other => unreachable!("{} is handled elsewhere", other.name()),
        }
    }

    /// The answer to an accepted update.
    pub fn outcome(&self, command: &str, decision: &Decision) -> CommandOutcome {
        CommandOutcome {
            order_id: self.order.order_id.clone(),
            command: command.into(),
            state: self.state,
            message: decision.message.clone().unwrap_or_default(),
        }
    }

    pub(super) fn can_approve(&self) -> Result<(), Refusal> {
        if self.state.is_terminal() {
            return Err(Refusal::NotAwaitingApproval(self.state));
        }
        if self.cancel.is_some() {
            return Err(Refusal::BeingCancelled);
        }
        if self.approved {
            return Err(Refusal::AlreadyApproved(self.state));
        }
        match self.state {
            OrderState::Received | OrderState::Validated | OrderState::AwaitingApproval => Ok(()),
            other => Err(Refusal::NotAwaitingApproval(other)),
        }
    }

    /// Cancels and address changes: until the parcel is committed to the carrier.
    pub(super) fn can_change(&self) -> Result<(), Refusal> {
        if self.state.is_terminal() {
            return Err(Refusal::Finished(self.state));
        }
        if matches!(self.stage, Stage::Shipping { dispatch, .. } if dispatch.is_committed()) {
            return Err(Refusal::Dispatched);
        }
        Ok(())
    }

    /// The running shipment, when its child holds the dispatch and changes must be asked of it.
    pub(super) fn delegated_shipment(&self) -> Option<u32> {
        match self.stage {
            Stage::Shipping { shipment, dispatch: Dispatch::Delegated } => Some(shipment),
            _ => None,
        }
    }

    /// Notes a change to ask shipment `shipment`'s child; the driver sends it.
    fn ask(&mut self, shipment: u32, change: Change) -> u32 {
        self.next_ask += 1;
        self.asks.insert(self.next_ask, Ask { shipment, change, sent: false, by_signal: false, answer: None });
        self.next_ask
    }

    /// Gives change `change` its answer. Nobody takes a signal's: it is forgotten, a refusal kept as a note.
    pub(super) fn resolve(&mut self, change: u32, answer: Result<String, Refusal>) {
        let Some(ask) = self.asks.get_mut(&change).filter(|ask| ask.answer.is_none()) else { return };
        if !ask.by_signal {
            ask.answer = Some(answer);
            return;
        }
        let name = match ask.change {
            Change::Stop { by_server: true, .. } => "server cancel",
            Change::Stop { .. } => "cancel_order",
            Change::Address(_) => "update_address",
        };
        self.asks.remove(&change);
        if let Err(refusal) = answer {
            self.notes.push(format!("{name} ignored: {refusal}"));
        }
    }

    fn unanswered(&self, shipment: Option<u32>) -> Vec<u32> {
        let pending = |ask: &Ask| ask.answer.is_none() && shipment.is_none_or(|s| ask.shipment == s);
        self.asks.iter().filter(|(_, ask)| pending(ask)).map(|(&change, _)| change).collect()
    }

    /// Refuses every unanswered change of shipment `shipment`.
    pub(super) fn refuse_asks(&mut self, shipment: u32, refusal: &Refusal) {
        for change in self.unanswered(Some(shipment)) {
            self.resolve(change, Err(refusal.clone()));
        }
    }

    /// Refuses every unanswered change: the order has ended.
    pub(super) fn refuse_all_asks(&mut self, refusal: &Refusal) {
        for change in self.unanswered(None) {
            self.resolve(change, Err(refusal.clone()));
        }
    }

    /// Shipment `shipment` did not dispatch: every change asked of it holds — a stop cancels the order (a person's,
    /// with its reason; the server's is already noted), an address becomes the order's.
    pub(super) fn take_asks(&mut self, shipment: u32) {
        for change in self.unanswered(Some(shipment)) {
            let message = match self.asks[&change].change.clone() {
                Change::Stop { reason, by_server } => {
                    if !by_server {
                        self.request_cancel(reason);
                    }
                    CANCEL_TAKEN
                }
                Change::Address(address) => {
                    self.order.address = address;
                    self.address_version += 1;
                    ADDRESS_TAKEN
                }
            };
            self.resolve(change, Ok(message.into()));
        }
    }

    pub(super) fn request_cancel(&mut self, reason: Option<String>) {
        if self.cancel.is_none() {
            self.cancel =
                Some(reason.filter(|r| !r.trim().is_empty()).unwrap_or_else(|| "cancelled by request".into()));
        }
    }

    pub(super) fn cancel_pending(&self) -> bool {
        self.cancel.is_some() || self.server_cancel.is_some()
    }

    /// The end a cancel leads to: a person's reason wins over the server's.
    pub(super) fn cancelled(&self) -> End {
        match &self.cancel {
            Some(reason) => End::Cancelled { reason: reason.clone(), by_server: false },
            None => End::Cancelled {
                reason: self.server_cancel.clone().unwrap_or_else(|| "workflow cancelled".into()),
                by_server: true,
            },
        }
    }

    pub(super) fn settings(&self) -> crate::domain::OrderSettings {
        self.settings.clone().expect("settings are fixed by receive_order before any later stage")
    }

    /// A state write for `record_state`, with the current address.
    pub(super) fn record(&mut self, state: OrderState, step: &str, message: Option<String>) -> RecordStateInput {
        self.state = state;
        step.clone_into(&mut self.step);
        let seq = self.next_seq();
        RecordStateInput {
            order_id: self.order.order_id.clone(),
            seq,
            state,
            step: step.into(),
            message,
            address: Some(self.order.address.clone()),
            attention: None,
        }
    }

    pub(super) fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    pub(super) fn count_retries(&mut self, activity: Activity, attempt: u32) {
        if attempt > 1 {
            *self.retries.entry(activity.name().into()).or_default() += attempt - 1;
        }
    }

    pub(super) fn record_error(&mut self, activity: Activity, attempt: u32, message: String, at: Option<SystemTime>) {
        let at = at.map(|t| humantime::format_rfc3339_millis(t).to_string()).unwrap_or_default();
        self.recent_errors.push(RecentError { activity: activity.name().into(), attempt, message, at });
        if self.recent_errors.len() > RECENT_ERRORS {
            self.recent_errors.remove(0);
        }
    }
}
