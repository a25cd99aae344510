//! The lifecycle states written to `orders.state` and reported by the `status` query.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Received,
    Validated,
    AwaitingApproval,
    Approved,
    Charged,
    Shipping,
    Shipped,
    Cancelled,
    Failed,
    /// Validation refused the order or the payment was declined.
    Rejected,
}

impl OrderState {
    pub const ALL: [OrderState; 10] = [
        OrderState::Received,
        OrderState::Validated,
        OrderState::AwaitingApproval,
        OrderState::Approved,
        OrderState::Charged,
        OrderState::Shipping,
        OrderState::Shipped,
        OrderState::Cancelled,
        OrderState::Failed,
        OrderState::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Received => "received",
            OrderState::Validated => "validated",
            OrderState::AwaitingApproval => "awaiting_approval",
            OrderState::Approved => "approved",
            OrderState::Charged => "charged",
            OrderState::Shipping => "shipping",
            OrderState::Shipped => "shipped",
            OrderState::Cancelled => "cancelled",
            OrderState::Failed => "failed",
            OrderState::Rejected => "rejected",
        }
    }

    /// No further change will happen.
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderState::Shipped | OrderState::Cancelled | OrderState::Failed | OrderState::Rejected)
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderState::ALL.into_iter().find(|state| state.as_str() == s).ok_or_else(|| {
            let all: Vec<_> = OrderState::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown state {s:?}: expected one of {}", all.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde_and_round_trip() {
        for state in OrderState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
            assert_eq!(state.as_str().parse::<OrderState>().unwrap(), state);
        }
        assert!("done".parse::<OrderState>().is_err());
    }
}
