//! What follows an outcome: the approval wait, the charge, each shipment, the failures, and the end with its refund.

use std::time::{Duration, SystemTime};

use super::{Decision, Dispatch, End, FailureKind, Handover, Lifecycle, Next, Refusal, Stage, UnheardCharges};
use crate::domain::payloads::{ChargeInput, RefundInput, ShippingInput};
use crate::domain::{Activity, OrderState, PaymentState, ShippingStatus};

impl Lifecycle {
    /// After validation: wait for approval unless it already came (or a cancel did).
    pub(super) fn await_approval(&mut self, now: Option<SystemTime>) -> Decision {
        if self.cancel_pending() {
            return self.cancel_before_charge();
        }
        if self.approved {
            return self.approval_settled_then_charge();
        }
        let timeout = Duration::from_millis(self.settings().approval_timeout_ms);
        let deadline =
            now.and_then(|now| now.checked_add(timeout)).map(|at| humantime::format_rfc3339_seconds(at).to_string());
        self.approval_deadline.clone_from(&deadline);
        self.stage = Stage::AwaitingApproval { deadline };
        let record = self.record(OrderState::AwaitingApproval, "manual_review", None);
        Decision { record: Some(record), next: Next::AwaitApproval(timeout), message: None, ask: None }
    }

    pub(super) fn approval_settled_then_charge(&mut self) -> Decision {
        if self.cancel_pending() {
            return self.cancel_before_charge();
        }
        let record = self.record(OrderState::Approved, Activity::ChargePayment.name(), None);
        let seq = self.next_seq();
        self.stage = Stage::Charging;
        self.charge_attempted = true;
        let charge = ChargeInput {
            order_id: self.order.order_id.clone(),
            payment_id: self.order.payment_id.clone(),
            amount_cents: self.total_cents.unwrap_or_else(|| self.order.total_cents()),
            seq,
            before: None,
        };
        Decision { record: Some(record), next: Next::Charge(charge), message: None, ask: None }
    }

    /// A cancel before the charge ends the order. Approved, the charge may have been made by a lost run of the task
    /// that heard the approval: with [`Lifecycle::refund_unheard_charges`] the end refunds it as a charge whose
    /// outcome is unknown.
    pub(super) fn cancel_before_charge(&mut self) -> Decision {
        if self.approved && self.unheard_charges == UnheardCharges::Refunded {
            self.charge_attempted = true;
        }
        self.end(self.cancelled())
    }

    /// Starts shipping attempt `shipment`, or fails the order when the attempts are used up.
    pub(super) fn begin_shipment(&mut self, shipment: u32) -> Decision {
        let settings = self.settings();
        if shipment > settings.max_shipping_attempts {
            let reasons = self.dispatch_failures.values().cloned().collect::<Vec<_>>().join("; ");
            let reason = format!("shipping failed {} time(s): {reasons}", settings.max_shipping_attempts);
            return self.end(End::Failed { reason });
        }
        if self.cancel_pending() {
            return self.end(self.cancelled());
        }
        self.shipping = ShippingStatus { attempt: shipment, ..ShippingStatus::default() };
        let delegated = self.handover == Handover::Delegated;
        let dispatch = if delegated { Dispatch::Delegated } else { Dispatch::Packing };
        self.stage = Stage::Shipping { shipment, dispatch };
        let record = self.record(OrderState::Shipping, Activity::PreparePackage.name(), None);
        let shipped_seq = self.next_seq();
        let order_id = self.order.order_id.clone();
        let input = ShippingInput {
            order: self.order.clone(),
            shipment,
            parent_workflow_id: order_id.clone(),
            shipped_seq,
            activity_timeout_ms: settings.activity_timeout_ms,
            local_steps: false,
            delegated,
            claims: delegated,
            before: None,
        };
        let workflow_id = crate::domain::shipping_workflow_id(&order_id, shipment);
        let next = Next::Ship { input, workflow_id, task_queue: settings.shipping_task_queue };
        Decision { record: Some(record), next, message: None, ask: None }
    }

    pub(super) fn activity_failed(
        &mut self,
        activity: Activity,
        kind: FailureKind,
        message: String,
        at: Option<SystemTime>,
    ) -> Result<Decision, Refusal> {
        let expected = match &self.stage {
            Stage::Receiving => Activity::ReceiveOrder,
            Stage::Validating { .. } => Activity::ValidateOrder,
            Stage::Charging => Activity::ChargePayment,
            Stage::Compensating(_) => Activity::RefundPayment,
            stage => return Err(Refusal::Unexpected { command: activity.name(), stage: stage.name() }),
        };
        if activity != expected {
            return Err(Refusal::Unexpected { command: activity.name(), stage: self.stage.name() });
        }
        if let Stage::Compensating(end) = self.stage.clone() {
            // The refund could not be made: the order still ends, and a person is told.
            self.attention = Some(format!("refund needs attention: {message}"));
            self.record_error(activity, 0, message, at);
            return Ok(self.finalize(end));
        }
        if kind == FailureKind::Cancelled {
            return Ok(self.end(self.cancelled()));
        }
        self.record_error(activity, 0, message.clone(), at);
        if kind == FailureKind::Permanent {
            if activity == Activity::ChargePayment {
                self.payment.status = PaymentState::Declined;
            }
            return Ok(self.end(End::Rejected { reason: message }));
        }
        Ok(self.end(End::Failed { reason: format!("{activity}: {message}") }))
    }

    /// The order ends: money that may have been taken is given back first — a charge that reported success, or
    /// one whose outcome is unknown (it failed without the processor saying no). A parcel that may be with the
    /// carrier is never refunded: a person decides.
    pub(super) fn end(&mut self, end: End) -> Decision {
        // Whatever was still asked of a shipment is answered now: the order is ending.
        self.refuse_all_asks(&Refusal::Finished(end.state()));
        if end == End::Shipped {
            return self.finalize(end);
        }
        if self.parcel_may_be_out {
            self.attention = Some(format!(
                "shipment {} failed after its dispatch was approved; the parcel may be with the carrier: \
                 not refunded, check with the carrier",
                self.shipping.attempt
            ));
            return self.finalize(end);
        }
        let uncertain = self.guarded() && self.charge_attempted && self.payment.status == PaymentState::Pending;
        if self.payment.status != PaymentState::Charged && !uncertain {
            return self.finalize(end);
        }
        let refund = RefundInput {
            order_id: self.order.order_id.clone(),
            payment_id: self.order.payment_id.clone(),
            transaction_id: self.payment.transaction_id.clone().unwrap_or_default(),
            amount_cents: self.payment.amount_cents.unwrap_or_default(),
            reason: end.reason().unwrap_or_default().to_owned(),
        };
        self.stage = Stage::Compensating(end);
        Activity::RefundPayment.name().clone_into(&mut self.step);
        Decision::next(Next::Refund(refund))
    }

    /// Records the final state (a shipped order's was written by `ship_order`) and ends. An order that was never
    /// received writes nothing: the row under its id, if any, belongs to another run.
    pub(super) fn finalize(&mut self, end: End) -> Decision {
        let state = end.state();
        let received = self.settings.is_some() || !self.guarded();
        let mut record = (end != End::Shipped && received)
            .then(|| self.record(state, state.as_str(), end.reason().map(str::to_owned)));
        if let Some(record) = &mut record {
            record.attention.clone_from(&self.attention);
        }
        self.state = state;
        state.as_str().clone_into(&mut self.step);
        self.stage = Stage::Ended(end.clone());
        Decision { record, next: Next::Finish(end), message: None, ask: None }
    }
}
