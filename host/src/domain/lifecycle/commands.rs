//! The lifecycle's vocabulary: the [`Command`]s it takes, the [`Decision`]s and [`Next`] steps it answers with, its
//! [`Refusal`]s, and how it [`End`]s.

use std::time::{Duration, SystemTime};

use crate::domain::payloads::{
    ChargeInput, Charged, Received, RecordStateInput, RefundInput, Refunded, ShipmentChange, ShippingInput,
    ShippingResult, ValidateInput, Validated,
};
use crate::domain::{Activity, Address, OrderInput, OrderState};

/// How the lifecycle ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Shipped,
    /// Cancelled by a command, by the approval timeout, or by the server (`by_server`: the run ends as Canceled).
    Cancelled {
        reason: String,
        by_server: bool,
    },
    /// The validator or the payment processor said no for good.
    Rejected {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

impl End {
    /// The final state written to the store.
    pub fn state(&self) -> OrderState {
        match self {
            End::Shipped => OrderState::Shipped,
            End::Cancelled { .. } => OrderState::Cancelled,
            End::Rejected { .. } => OrderState::Rejected,
            End::Failed { .. } => OrderState::Failed,
        }
    }

    /// Why it ended (nothing for a shipped order).
    pub fn reason(&self) -> Option<&str> {
        match self {
            End::Shipped => None,
            End::Cancelled { reason, .. } | End::Rejected { reason } | End::Failed { reason } => Some(reason),
        }
    }
}

/// How an activity's final failure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The activity was cancelled (the workflow is being cancelled).
    Cancelled,
    /// The plugin said no for good: the order is rejected.
    Permanent,
    /// Anything else (retries exhausted, store conflict, invalid input): the order fails.
    Other,
}

/// Everything that can happen to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    // ---- from people (signals and updates) ----
    /// `approve_order`.
    Approve,
    /// `cancel_order`, with an optional reason.
    Cancel {
        reason: Option<String>,
    },
    /// `update_address`, already parsed.
    UpdateAddress(Address),

    // ---- from the shipping child ----
    /// `package_ready`: shipment `shipment` is packed and asks to be dispatched.
    PackageReady {
        shipment: u32,
        package_id: String,
    },
    /// `dispatch_failed`: shipment `shipment` cannot be dispatched (0 means the current one).
    DispatchFailed {
        shipment: u32,
        reason: String,
    },
    /// `shipment_change_answered`: the child of a delegated shipment took change `change`, or refused it because its
    /// dispatch has begun.
    ShipmentAnswered {
        shipment: u32,
        change: u32,
        taken: bool,
    },

    // ---- from Temporal ----
    /// The server asked the workflow to cancel.
    ServerCancelled {
        reason: String,
    },
    /// The wait for approval ended: by its timer (`timed_out`), or because an approval or a cancel arrived.
    ApprovalWaitEnded {
        timed_out: bool,
    },
    /// The driver stopped waiting for an activity or a child because the order is being cancelled.
    Interrupted,

    // ---- activity and child outcomes; `at` is the workflow time ----
    Received(Received),
    /// Validation passed; `at` starts the approval clock.
    Validated {
        result: Validated,
        at: Option<SystemTime>,
    },
    Charged(Charged),
    Refunded(Refunded),
    /// An activity failed for good.
    ActivityFailed {
        activity: Activity,
        kind: FailureKind,
        message: String,
        at: Option<SystemTime>,
    },
    /// The approval was sent to the child (`Dispatch::Ready` → `Approved`).
    DispatchApprovalSent {
        shipment: u32,
    },
    /// The approval could not be delivered to the child.
    DispatchApprovalUndelivered {
        shipment: u32,
        reason: String,
    },
    /// Change `change` was sent to the delegated shipment's child (`undelivered`: why it could not be; the child's
    /// end will answer it).
    ShipmentAsked {
        change: u32,
        undelivered: Option<String>,
    },
    /// The shipping child could not be started.
    ShipmentNotStarted {
        reason: String,
    },
    /// The shipping child finished.
    Shipped(ShippingResult),
    /// The shipping child failed (`message`: its failure, used when it did not say why itself).
    ShipmentFailed {
        shipment: u32,
        message: String,
        at: Option<SystemTime>,
        /// How it ended, by its own result.
        end: ShipmentEnd,
    },
}

/// How a shipping child that did not ship ended, as its own result says: anyone can send the child's signals, but
/// only the child's code decides how its run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipmentEnd {
    /// Cancelled: a child with delegated dispatch ends so only before its dispatch.
    Cancelled,
    /// Failed with `DispatchFailed`: the child gave up without dispatching (and said so by `dispatch_failed`).
    DispatchFailed,
    /// Anything else (terminated, timed out, a step that failed for good after the dispatch): the parcel may be out.
    Other,
}

impl Command {
    /// The command's name as signals and updates call it (for notes and answers).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Approve => "approve_order",
            Command::Cancel { .. } => "cancel_order",
            Command::UpdateAddress(_) => "update_address",
            Command::PackageReady { .. } => "package_ready",
            Command::DispatchFailed { .. } => "dispatch_failed",
            Command::ShipmentAnswered { .. } => "shipment_change_answered",
            Command::ShipmentAsked { .. } => "change_shipment",
            Command::ServerCancelled { .. } => "server_cancel",
            Command::ApprovalWaitEnded { .. } => "approval_wait_ended",
            Command::Interrupted => "interrupted",
            Command::Received(_) => Activity::ReceiveOrder.name(),
            Command::Validated { .. } => Activity::ValidateOrder.name(),
            Command::Charged(_) => Activity::ChargePayment.name(),
            Command::Refunded(_) => Activity::RefundPayment.name(),
            Command::ActivityFailed { .. } => "activity_failed",
            Command::DispatchApprovalSent { .. } => "dispatch_approved",
            Command::DispatchApprovalUndelivered { .. } => "dispatch_approval_undelivered",
            Command::ShipmentNotStarted { .. } => "shipment_not_started",
            Command::Shipped(_) => "shipped",
            Command::ShipmentFailed { .. } => "shipment_failed",
        }
    }
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing: keep waiting (most signals).
    Continue,
    /// Run `receive_order`.
    Receive(OrderInput),
    /// Run `validate_order`, racing it against a cancel.
    Validate(ValidateInput),
    /// Wait for an approval or a cancel, at most this long.
    AwaitApproval(Duration),
    /// Run `charge_payment` (on a cancellation token of its own: money is never raced against a cancel).
    Charge(ChargeInput),
    /// Start shipping attempt `input.shipment` as child `workflow_id` on `task_queue`, after the `shipping` state
    /// write (the driver gives the child the order as it stands then: an address may change during that write).
    Ship { input: ShippingInput, workflow_id: String, task_queue: String },
    /// Send the dispatch approval to the current child.
    ApproveDispatch { shipment: u32, address: Address },
    /// Cancel the current child and wait for it to end.
    CancelShipment { reason: String },
    /// Send this change to the delegated shipment's child (`change_shipment`).
    AskShipment(ShipmentChange),
    /// Refund the payment (compensation, on a token of its own).
    Refund(RefundInput),
    /// The lifecycle is over.
    Finish(End),
}

impl Next {
    /// Whether this step waits for something outside the workflow task (a person, the shipment, the end), rather
    /// than running a step inside it.
    pub fn waits(&self) -> bool {
        matches!(self, Next::AwaitApproval(_) | Next::Ship { .. } | Next::Finish(_))
    }
}

/// An accepted command: the state to write first (if any), then what to do; `message` answers a person's command.
/// A change a delegated shipment must be asked about is answered later: `ask` names it
/// ([`super::Lifecycle::take_answer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub record: Option<RecordStateInput>,
    pub next: Next,
    pub message: Option<String>,
    pub ask: Option<u32>,
}

impl Decision {
    pub(super) fn next(next: Next) -> Decision {
        Decision { record: None, next, message: None, ask: None }
    }

    /// An accepted command's answer.
    pub fn answer(message: impl Into<String>) -> Decision {
        Decision { record: None, next: Next::Continue, message: Some(message.into()), ask: None }
    }

    pub(super) fn ask(change: u32) -> Decision {
        Decision { record: None, next: Next::Continue, message: None, ask: Some(change) }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Approval is only possible before it was given, while nothing ended the order.
    #[error("not awaiting approval: the order is {0}")]
    NotAwaitingApproval(OrderState),
    /// A cancel is pending.
    #[error("not awaiting approval: the order is being cancelled")]
    BeingCancelled,
    /// Approved already (by a person or the timeout).
    #[error("not awaiting approval: the order is already approved (state {0})")]
    AlreadyApproved(OrderState),
    /// The order has ended.
    #[error("the order is already {0}")]
    Finished(OrderState),
    /// The parcel is with the carrier (or about to be).
    #[error("the package has already been dispatched")]
    Dispatched,
    /// A child message about a shipment that is not the current one.
    #[error("shipment {shipment} is not the current shipment ({current})")]
    NotCurrentShipment { shipment: u32, current: u32 },
    /// A payload that does not decode or parse.
    #[error("{0}")]
    Invalid(String),
    /// An outcome that does not fit the stage (a driver bug, or a history from other code).
    #[error("{command} does not fit stage {stage}")]
    Unexpected { command: &'static str, stage: &'static str },
}
