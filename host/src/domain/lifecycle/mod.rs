//! The order lifecycle as one pure state machine: the order's [`Stage`] carrying what each stage knows, typed
//! [`Command`]s, and one decision function. No Temporal, no I/O, no clocks: times arrive inside commands.
//!
//! Every rule lives in [`Lifecycle::apply`] (through [`Lifecycle::decide`], which answers the same without changing
//! anything). The workflow is a driver: it turns signals, updates, timers and activity results into commands, and
//! carries out the [`Decision`] — write a state ([`Decision::record`]), then do [`Decision::next`]. A signal, an update's
//! validator and the update itself all go through the same decision, so they can never disagree.
//!
//! Shipping, new runs ([`Lifecycle::delegate_dispatch`]): the child is started with the go-ahead ([`Dispatch::Delegated`])
//! and a cancel or address change is an [`Ask`] — sent to the child, answered when the child takes it, refuses it
//! (its dispatch has begun) or ends. What decides money is only the child's own end ([`ShipmentEnd`]): a stop is
//! honoured once the child ended cancelled, a parcel is refunded or dispatched again only after the child ended
//! without dispatching. Runs recorded before keep the handshake (`Packing` → `Ready` → `Approved`).
//!
//! ```text
//! Receiving ─► Validating ─► AwaitingApproval ─► Charging ─► Shipping{1..n} ─► Ended(Shipped)
//!     │            │               │                 │            │
//!     └────────────┴───────────────┴─────────────────┴────────────┴─► Compensating (refund) ─► Ended(…)
//! ```

mod commands;
mod document;
mod rules;
mod steps;
#[cfg(test)]
mod tests;

pub use commands::{Command, Decision, End, FailureKind, Next, Refusal, ShipmentEnd};

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::payloads::OrderSettings;
use super::{Activity, Address, OrderInput, OrderState, PaymentStatus, PluginRun, RecentError, ShippingStatus};

/// How many failures the status document keeps.
pub const RECENT_ERRORS: usize = 10;

/// Where the order is, with what each stage knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// `receive_order` runs.
    Receiving,
    /// `validate_order` runs on the address of this version (a later update wins over the validator's copy).
    Validating { address_version: u32 },
    /// Waiting for `approve_order` until the deadline (RFC 3339, when the workflow clock was known).
    AwaitingApproval { deadline: Option<String> },
    /// Approved; `charge_payment` runs.
    Charging,
    /// Charged; shipping attempt `shipment` runs as a child workflow.
    Shipping { shipment: u32, dispatch: Dispatch },
    /// The end is decided and the payment is being refunded.
    Compensating(End),
    /// Nothing more happens.
    Ended(End),
}

/// What a cancel that ends an approved order before the run heard of a charge does about one: a run of the workflow
/// task that charged may have been lost ([`Lifecycle::refund_unheard_charges`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnheardCharges {
    /// Nothing: runs recorded before `refund-unheard-charges` (and runs that never come to that point).
    Ignored,
    /// Refunds whatever the payment holds, as a charge whose outcome is unknown.
    Refunded,
}

/// The rule set a run follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// As runs recorded before the money-and-ownership guards ran: they replay unchanged.
    Original,
    /// With the guards: a charge whose outcome is unknown is refunded, a parcel that may be out is neither
    /// dispatched again nor refunded, a run that was not received writes nothing, and a go-ahead stays committed
    /// until the child ends (patch `money-and-ownership`).
    Guarded,
}

/// Where a shipping attempt's dispatch handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// The child is packing; the order can still be cancelled or re-addressed.
    Packing,
    /// The child asked to dispatch (`package_ready`) and the driver owes it the approval: from here on the order
    /// can no longer be cancelled or re-addressed.
    Ready,
    /// The approval (with the final address) was sent.
    Approved,
    /// The child reported that this shipment cannot be dispatched.
    Failed,
    /// Delegated dispatch (new runs): the child was started with the go-ahead and dispatches unless it takes a stop
    /// first. Whether it has begun is known only to the child: cancels and address changes are asked of it
    /// ([`Ask`]), and the update that asked waits for the answer.
    Delegated,
    /// The delegated child answered that its dispatch has begun: no cancel, no new address.
    Dispatching,
}

impl Dispatch {
    /// The parcel is (or is about to be) with the carrier: no cancel, no new address.
    pub fn is_committed(self) -> bool {
        matches!(self, Dispatch::Ready | Dispatch::Approved | Dispatch::Dispatching)
    }

    /// The parcel may be with the carrier unless the child said its dispatch failed: the go-ahead was given.
    fn went_ahead(self) -> bool {
        matches!(self, Dispatch::Approved | Dispatch::Delegated | Dispatch::Dispatching)
    }
}

/// Who decides whether a shipment may dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// The parent, when the child asks after packing (runs recorded before delegated dispatch).
    Handshake,
    /// The child, started with the go-ahead; the parent asks it about changes ([`Dispatch::Delegated`]).
    Delegated,
}

/// A change asked of a delegated shipment's child, and its answer once known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    shipment: u32,
    change: Change,
    /// Sent to the child (or found unreachable: then its end answers).
    sent: bool,
    /// Asked by a signal: nobody waits for the answer, a refusal is kept as a note.
    by_signal: bool,
    /// The accepted command's message, or why it was refused.
    answer: Option<Result<String, Refusal>>,
}

/// What is asked of a delegated shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Stop before the dispatch: a person's cancel (with its reason), or the server's.
    Stop { reason: Option<String>, by_server: bool },
    /// Dispatch to this address.
    Address(Address),
}

/// One order, as the workflow holds it and the `status` query reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    order: OrderInput,
    settings: Option<OrderSettings>,
    stage: Stage,
    /// The state last reported (and written): lags the stage by design (`validated` until the wait is recorded).
    state: OrderState,
    step: String,
    /// Sequence number of the last state write.
    seq: u32,
    total_cents: Option<u64>,
    payment: PaymentStatus,
    shipping: ShippingStatus,
    approval_deadline: Option<String>,
    approved: bool,
    /// A cancel that was accepted, with its reason; honoured at the next point the driver can stop.
    cancel: Option<String>,
    /// The server's cancellation request, once the driver saw it.
    server_cancel: Option<String>,
    /// Why each failed shipment failed, by shipment number.
    dispatch_failures: BTreeMap<u32, String>,
    /// `charge_payment` was scheduled: from then on money may have moved, whatever the activity reported.
    charge_attempted: bool,
    /// A shipment failed after its dispatch was approved without saying the dispatch failed: the parcel may be
    /// with the carrier, so it is neither dispatched again nor refunded.
    parcel_may_be_out: bool,
    /// What a person must look at (a refund that could not be made, a parcel whose fate is unknown).
    attention: Option<String>,
    /// Which rules this run follows: see [`Rules`].
    rules: Rules,
    /// Who decides a shipment's dispatch.
    handover: Handover,
    /// What a cancel that ends an approved order before it heard of a charge does about that charge.
    unheard_charges: UnheardCharges,
    /// Changes asked of the running shipment, by number.
    asks: BTreeMap<u32, Ask>,
    next_ask: u32,
    address_version: u32,
    retries: BTreeMap<String, u32>,
    recent_errors: Vec<RecentError>,
    plugins: BTreeMap<String, PluginRun>,
    notes: Vec<String>,
}

impl Lifecycle {
    /// A new order, about to be received.
    pub fn new(order: OrderInput) -> Lifecycle {
        let payment = PaymentStatus {
            payment_id: order.payment_id.clone(),
            status: super::PaymentState::Pending,
            amount_cents: None,
            transaction_id: None,
        };
        Lifecycle {
            order,
            settings: None,
            stage: Stage::Receiving,
            state: OrderState::Received,
            step: Activity::ReceiveOrder.name().into(),
            seq: 1,
            total_cents: None,
            payment,
            shipping: ShippingStatus::default(),
            approval_deadline: None,
            approved: false,
            cancel: None,
            server_cancel: None,
            dispatch_failures: BTreeMap::new(),
            charge_attempted: false,
            parcel_may_be_out: false,
            attention: None,
            rules: Rules::Guarded,
            handover: Handover::Handshake,
            unheard_charges: UnheardCharges::Ignored,
            asks: BTreeMap::new(),
            next_ask: 0,
            address_version: 0,
            retries: BTreeMap::new(),
            recent_errors: Vec::new(),
            plugins: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    /// A run whose input is not an order: it ends at once, failed, having written nothing.
    pub fn unreadable(workflow_id: &str, reason: String) -> Lifecycle {
        let order = OrderInput {
            order_id: workflow_id.to_owned(),
            payment_id: String::new(),
            items: Vec::new(),
            address: super::Address::default(),
            options: super::OrderOptions::default(),
        };
        let mut lifecycle = Lifecycle::new(order);
        lifecycle.state = OrderState::Failed;
        OrderState::Failed.as_str().clone_into(&mut lifecycle.step);
        lifecycle.stage = Stage::Ended(End::Failed { reason });
        lifecycle
    }

    /// Keeps the rules a run recorded before the money-and-ownership guards ran with, so it replays unchanged.
    pub fn keep_original_rules(&mut self) {
        self.rules = Rules::Original;
    }

    /// Starts shipments with the go-ahead, asking the child about changes (runs with delegated dispatch).
    pub fn delegate_dispatch(&mut self) {
        self.handover = Handover::Delegated;
    }

    /// Whether a cancel is about to end an approved order that has not charged yet, as far as this run knows: the
    /// point where [`Lifecycle::refund_unheard_charges`] matters. The charge runs inside the workflow task that
    /// heard the approval; when that task is lost after the charge (its worker died) and a cancel arrives before it
    /// runs again, the run again hears approval and cancel together and never charges — while the lost run did.
    pub fn cancel_ends_approved_uncharged(&self) -> bool {
        // Receiving and validating too: an approval that came first is charged in the task that ran those steps.
        let before_charge =
            matches!(self.stage, Stage::Receiving | Stage::Validating { .. } | Stage::AwaitingApproval { .. });
        let ignored = self.unheard_charges == UnheardCharges::Ignored;
        self.approved && !self.charge_attempted && self.cancel_pending() && before_charge && ignored
    }

    /// From now on, a cancel that ends an approved order refunds whatever the payment was charged, heard of or not
    /// (`refund_payment` does nothing for a payment never recorded).
    pub fn refund_unheard_charges(&mut self) {
        self.unheard_charges = UnheardCharges::Refunded;
    }

    /// The answer to change `change` once the child (or the shipment's end) gave it: the accepted command's message,
    /// or why it was refused. Taking it forgets the change.
    pub fn take_answer(&mut self, change: u32) -> Option<Result<String, Refusal>> {
        let answer = self.asks.get(&change)?.answer.clone()?;
        self.asks.remove(&change);
        Some(answer)
    }

    /// Whether change `change` has its answer.
    pub fn answered(&self, change: u32) -> bool {
        self.asks.get(&change).is_none_or(|ask| ask.answer.is_some())
    }

    /// Marks change `change` as asked by a signal: nobody takes its answer, a refusal becomes a note.
    pub fn asked_by_signal(&mut self, change: u32) {
        if let Some(ask) = self.asks.get_mut(&change) {
            ask.by_signal = true;
        }
    }

    /// Whether the money-and-ownership guards apply.
    pub(super) fn guarded(&self) -> bool {
        self.rules == Rules::Guarded
    }

    /// The first step.
    pub fn start(&self) -> Next {
        match &self.stage {
            Stage::Ended(end) => Next::Finish(end.clone()),
            _ => Next::Receive(self.order.clone()),
        }
    }

    /// Whether `command` would be accepted now, and what would follow; changes nothing.
    pub fn decide(&self, command: Command) -> Result<Decision, Refusal> {
        self.clone().apply(command)
    }

    /// Applies `command`: on acceptance the order changes and the decision says what follows; on refusal nothing
    /// changes.
    pub fn apply(&mut self, command: Command) -> Result<Decision, Refusal> {
        let mut next = self.clone();
        let decision = next.transition(command)?;
        *self = next;
        Ok(decision)
    }

    /// Applies a command that arrived as a signal: a refusal is kept as a note, since a signal has no one to answer
    /// (also one that comes later, from a delegated shipment's child).
    pub fn apply_signal(&mut self, command: Command) {
        let name = command.name();
        match self.apply(command) {
            Ok(Decision { ask: Some(change), .. }) => self.asked_by_signal(change),
            Ok(_) => {}
            Err(refusal) => self.note_refusal(name, &refusal),
        }
    }

    /// Keeps a note that a signal was refused (also for payloads that did not decode).
    pub fn note_refusal(&mut self, command: &str, refusal: &Refusal) {
        self.notes.push(format!("{command} ignored: {refusal}"));
    }

    // ---- what the driver waits on ----

    /// The approval wait is over: approved or cancelled.
    pub fn approval_settled(&self) -> bool {
        self.approved || self.cancel.is_some()
    }

    /// A running activity or child should be given up: a cancel was accepted.
    pub fn cancel_requested(&self) -> bool {
        self.cancel.is_some()
    }

    /// The running shipment needs the driver: a dispatch approval is owed, a cancel can still stop it, or a change
    /// is to be asked of it.
    pub fn shipment_needs_driver(&self) -> bool {
        match self.stage {
            Stage::Shipping { dispatch: Dispatch::Delegated, shipment } => self.unsent_ask(shipment).is_some(),
            Stage::Shipping { dispatch, .. } => {
                dispatch == Dispatch::Ready || (self.cancel.is_some() && !dispatch.is_committed())
            }
            _ => false,
        }
    }

    /// What the driver does for the running shipment now (after it woke, or when the server cancelled).
    pub fn shipment_step(&self) -> Next {
        let Stage::Shipping { shipment, dispatch } = self.stage else { return Next::Continue };
        if dispatch == Dispatch::Delegated {
            // Only the child knows whether its dispatch has begun: it is asked, never cancelled from here.
            return self.unsent_ask(shipment).map_or(Next::Continue, Next::AskShipment);
        }
        let cancel_now = self.server_cancel.is_some() || self.cancel.is_some();
        if cancel_now && !dispatch.is_committed() {
            let reason = self.cancel.clone().unwrap_or_else(|| "order cancelled".into());
            return Next::CancelShipment { reason };
        }
        if dispatch == Dispatch::Ready {
            return Next::ApproveDispatch { shipment, address: self.order.address.clone() };
        }
        Next::Continue
    }

    /// The first change not yet sent to shipment `shipment`'s child, as the child is sent it.
    fn unsent_ask(&self, shipment: u32) -> Option<crate::domain::payloads::ShipmentChange> {
        let (&change, ask) = self.asks.iter().find(|(_, ask)| ask.shipment == shipment && !ask.sent)?;
        let (stop, address) = match &ask.change {
            Change::Stop { .. } => (true, None),
            Change::Address(address) => (false, Some(address.clone())),
        };
        Some(crate::domain::payloads::ShipmentChange { shipment, change, stop, address })
    }

    /// The server cancelled, but the parcel is already committed: the shipment must be allowed to finish.
    pub fn must_finish_shipment(&self) -> bool {
        self.server_cancel.is_some()
            && matches!(self.stage, Stage::Shipping { dispatch, .. } if dispatch.is_committed())
    }

    /// Whether a cancel or an address change would be accepted now (before any payload is looked at).
    pub fn accepts_changes(&self) -> Result<(), Refusal> {
        self.can_change()
    }

    /// Start-to-close timeout of a business activity attempt, once the settings are known.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.settings.as_ref().map(|s| Duration::from_millis(s.activity_timeout_ms))
    }

    pub fn stage(&self) -> &Stage {
        &self.stage
    }

    pub fn state(&self) -> OrderState {
        self.state
    }

    pub fn order(&self) -> &OrderInput {
        &self.order
    }
}

impl Stage {
    fn name(&self) -> &'static str {
        match self {
            Stage::Receiving => "receiving",
            Stage::Validating { .. } => "validating",
            Stage::AwaitingApproval { .. } => "awaiting_approval",
            Stage::Charging => "charging",
            Stage::Shipping { .. } => "shipping",
            Stage::Compensating(_) => "compensating",
            Stage::Ended(_) => "ended",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
