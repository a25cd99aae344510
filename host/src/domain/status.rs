//! The status document: what `GET /orders/{id}/status` and the `status` query return.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Address, Item, OrderState};

/// Everything a client wants to know about an order, in one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusDocument {
    pub order_id: String,
    pub state: OrderState,
    /// What the workflow is doing now, e.g. `manual_review`, `charge_payment`, `dispatch_carrier`.
    pub step: String,
    pub items: Vec<Item>,
    pub address: Address,
    /// Known once validation computed it.
    pub total_cents: Option<u64>,
    pub payment: PaymentStatus,
    pub shipping: ShippingStatus,
    pub approval: ApprovalStatus,
    /// Retries per activity (attempts beyond the first).
    pub retries: BTreeMap<String, u32>,
    /// The latest failures, newest last.
    pub recent_errors: Vec<RecentError>,
    /// The plugin version that ran each slot's last step.
    pub plugins: BTreeMap<String, PluginRun>,
    pub workflow: WorkflowStatus,
    /// Commands that were recorded but had no effect (e.g. a cancel after dispatch sent as a signal).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Set when a person must act: a refund that could not be made, a parcel whose dispatch is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
}

/// The payment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    Pending,
    Charged,
    Refunded,
    Declined,
}

impl PaymentState {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Pending => "pending",
            PaymentState::Charged => "charged",
            PaymentState::Refunded => "refunded",
            PaymentState::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentState> {
        [PaymentState::Pending, PaymentState::Charged, PaymentState::Refunded, PaymentState::Declined]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentStatus {
    pub payment_id: String,
    pub status: PaymentState,
    pub amount_cents: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShippingStatus {
    /// Which shipping workflow is running or ran last (0 before shipping).
    pub attempt: u32,
    pub package_id: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApprovalStatus {
    /// When the wait for approval ends (RFC 3339), once it has started.
    pub deadline: Option<String>,
    /// Whether `approve_order` was received (or the timeout approved it).
    #[serde(default)]
    pub approved: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecentError {
    pub activity: String,
    pub attempt: u32,
    pub message: String,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginRun {
    pub name: String,
    pub version: String,
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkflowStatus {
    pub workflow_id: String,
    pub run_id: String,
    /// Temporal's execution status: `RUNNING`, `COMPLETED`, `FAILED`, `CANCELED`, `TERMINATED`, `TIMED_OUT`.
    pub status: String,
}
