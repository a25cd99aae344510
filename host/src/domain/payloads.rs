//! The wire types of the lifecycle: what workflows, activities, signals and updates exchange (JSON payloads,
//! readable in the Temporal Web UI and by other SDKs). Plain data with serde; the rules live in [`super::lifecycle`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Address, OrderInput, OrderState, PluginRun, TimeoutAction};

/// The effective settings of one order: the worker's defaults merged with the order's own options. Returned by
/// `receive_order` so they are fixed in the workflow's history (a worker restarted with other defaults replays the
/// same order the same way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSettings {
    pub approval_timeout_ms: u64,
    pub approval_timeout_action: TimeoutAction,
    pub max_shipping_attempts: u32,
    pub shipping_task_queue: String,
    /// Start-to-close timeout of one business activity attempt.
    pub activity_timeout_ms: u64,
}

/// `receive_order`'s input: the workflow's input and the run that owns the order. The owner is the first run of
/// the workflow's chain, so a reset keeps it and a new start under the same id does not; it is set by the workflow,
/// never by whoever started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveInput {
    #[serde(flatten)]
    pub order: OrderInput,
    /// Absent in inputs scheduled before owners existed: the activity's own run is used then.
    #[serde(default)]
    pub owner_run_id: Option<String>,
}

/// `receive_order`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub settings: OrderSettings,
    /// False when the order row already existed (a retried attempt).
    pub created: bool,
    pub attempt: u32,
}

/// `validate_order`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateInput {
    pub order: OrderInput,
    /// Sequence number of the `validated` state write.
    pub seq: u32,
}

/// `validate_order`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validated {
    /// The order as the validator normalised it.
    pub order: OrderInput,
    pub total_cents: u64,
    pub plugin: PluginRun,
    pub attempt: u32,
}

/// `charge_payment`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeInput {
    pub order_id: String,
    pub payment_id: String,
    pub amount_cents: u64,
    /// Sequence number of the `charged` state write.
    pub seq: u32,
    /// The state the order entered just before (`approved`), written first by this step instead of a
    /// `record_state` of its own (runs with delegated dispatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Box<RecordStateInput>>,
}

/// `charge_payment`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charged {
    pub transaction_id: String,
    pub amount_cents: u64,
    /// The plugin that charged, or `None` when an earlier attempt had already charged and its receipt was reused.
    pub plugin: Option<PluginRun>,
    pub attempt: u32,
}

/// `refund_payment`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundInput {
    pub order_id: String,
    pub payment_id: String,
    pub transaction_id: String,
    pub amount_cents: u64,
    pub reason: String,
}

/// `refund_payment`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refunded {
    pub refund_id: String,
    pub plugin: Option<PluginRun>,
    pub attempt: u32,
}

/// A parcel as `prepare_package` made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInfo {
    pub package_id: String,
    pub weight_grams: u32,
    pub box_size: String,
    pub units: u32,
}

/// `prepare_package`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareInput {
    pub order: OrderInput,
    pub shipment: u32,
    /// The state the order entered as this shipment began (`shipping`), written first by this step (see
    /// [`ShippingInput::before`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Box<RecordStateInput>>,
}

/// `prepare_package`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packed {
    pub package: PackageInfo,
    pub plugin: PluginRun,
    pub attempt: u32,
}

/// `dispatch_carrier`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchInput {
    /// The order with the address it ships to (the latest update before dispatch).
    pub order: OrderInput,
    pub shipment: u32,
    pub package: PackageInfo,
    /// Claim the shipment's dispatch in the database first, and refuse to dispatch a shipment stopped there
    /// (children that claim, [`ShippingInput::claims`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claim: bool,
}

/// `claim_shipment`'s input: a shipment's stop, or its dispatch to `address` with `package`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimInput {
    pub order_id: String,
    pub shipment: u32,
    pub stop: bool,
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageInfo>,
}

/// `claim_shipment`'s result: the claim that holds (this one, or one made before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimed {
    pub stop: bool,
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageInfo>,
}

/// `dispatch_carrier`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatched {
    pub carrier: String,
    pub tracking: String,
    pub eta_days: u32,
    pub plugin: PluginRun,
    pub attempt: u32,
    /// The parcel that went when it is not the one asked for: a run of the task before this one claimed the shipment
    /// with the parcel its preparation packed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageInfo>,
}

/// `ship_order`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipInput {
    pub order_id: String,
    pub shipment: u32,
    pub package_id: String,
    pub carrier: String,
    pub tracking: String,
    /// The address it went to.
    pub address: Address,
    /// Sequence number of the `shipped` state write.
    pub seq: u32,
}

/// `ship_order`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipped {
    pub attempt: u32,
}

/// `record_state`'s input (a local activity: bookkeeping for states no business activity writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordStateInput {
    pub order_id: String,
    pub seq: u32,
    pub state: OrderState,
    pub step: String,
    pub message: Option<String>,
    /// The order's current address (updates between state changes reach the table with the next one).
    pub address: Option<Address>,
    /// Something a person must look at (a refund that could not be made): recorded as an `attention` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
}

/// `cancel_order`'s optional payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

/// What an accepted command (update) answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommandOutcome {
    pub order_id: String,
    /// `approve_order`, `cancel_order` or `update_address`.
    pub command: String,
    /// The order's state right after the command was applied.
    pub state: OrderState,
    pub message: String,
}

/// Child → parent (`package_ready`): the parcel is packed; may it be dispatched?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageReady {
    pub shipment: u32,
    pub package_id: String,
}

/// Child → parent (`dispatch_failed`): this shipment cannot be dispatched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchFailed {
    #[serde(default)]
    pub shipment: u32,
    pub reason: String,
}

/// Parent → child (`change_shipment`, shipments with delegated dispatch): stop before the dispatch, or dispatch to
/// a new address. The child answers an address (and a stop it cannot take) with [`ShipmentChangeAnswer`]; a stop it
/// takes is answered by its end (cancelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentChange {
    pub shipment: u32,
    /// The parent's number for this change.
    pub change: u32,
    #[serde(default)]
    pub stop: bool,
    #[serde(default)]
    pub address: Option<Address>,
}

/// Child → parent (`shipment_change_answered`): whether the child took change `change` (`false`: its dispatch has
/// begun, nothing can change any more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentChangeAnswer {
    pub shipment: u32,
    pub change: u32,
    pub taken: bool,
}

/// Parent → child (`dispatch_approved`): dispatch to this address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchApproval {
    pub address: Address,
}

/// `ShippingWorkflow`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingInput {
    pub order: OrderInput,
    /// 1 for the first shipping attempt.
    pub shipment: u32,
    pub parent_workflow_id: String,
    /// Sequence number of the `shipped` state write, reserved by the parent.
    pub shipped_seq: u32,
    pub activity_timeout_ms: u64,
    /// Run the steps as local activities. Set by parents with local steps; a child started by an older parent has
    /// no such field and runs its steps as activities of their own.
    #[serde(default)]
    pub local_steps: bool,
    /// The child dispatches on its own authority, without asking (its parent asks it about cancels and address
    /// changes instead, [`ShipmentChange`]). Set by parents with delegated dispatch; implies `local_steps`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delegated: bool,
    /// The child claims its dispatch or its stop in the database when it decides, rather than committing the decision
    /// in its history (a timer and a workflow task more). Set by parents with delegated dispatch; a child recorded
    /// by older code replays the path its patch marker names.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claims: bool,
    /// The `shipping` state write, left to the child's first step instead of a `record_state` of the parent's
    /// (runs with delegated dispatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Box<RecordStateInput>>,
}

/// `ShippingWorkflow`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingResult {
    pub package_id: String,
    pub carrier: String,
    pub tracking: String,
    pub eta_days: u32,
    /// Retries per activity inside the child.
    pub retries: BTreeMap<String, u32>,
    pub plugin: PluginRun,
    /// The address the parcel went to (children with delegated dispatch say; older ones went to the one approved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}
