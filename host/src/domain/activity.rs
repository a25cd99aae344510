//! The activities of the lifecycle, by name: one enum instead of string literals in workflows, activities, the
//! status read model, failure injection and the benchmark's floor. The names are the Temporal contract (DESIGN.md).

use std::fmt;
use std::str::FromStr;

use crate::plugins::Slot;

/// Which of the two task queues an activity runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// `orders`: `OrderWorkflow` and its activities.
    Orders,
    /// `shipping`: `ShippingWorkflow` and its activities.
    Shipping,
}

/// Every activity type the workflows schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Activity {
    ReceiveOrder,
    ValidateOrder,
    ChargePayment,
    RefundPayment,
    PreparePackage,
    DispatchCarrier,
    ShipOrder,
    /// Bookkeeping of states no business activity writes (a local activity).
    RecordState,
}

impl Activity {
    pub const ALL: [Activity; 8] = [
        Activity::ReceiveOrder,
        Activity::ValidateOrder,
        Activity::ChargePayment,
        Activity::RefundPayment,
        Activity::PreparePackage,
        Activity::DispatchCarrier,
        Activity::ShipOrder,
        Activity::RecordState,
    ];

    /// The activity type name registered with Temporal.
    pub fn name(self) -> &'static str {
        match self {
            Activity::ReceiveOrder => "receive_order",
            Activity::ValidateOrder => "validate_order",
            Activity::ChargePayment => "charge_payment",
            Activity::RefundPayment => "refund_payment",
            Activity::PreparePackage => "prepare_package",
            Activity::DispatchCarrier => "dispatch_carrier",
            Activity::ShipOrder => "ship_order",
            Activity::RecordState => "record_state",
        }
    }

    /// The plugin slot it calls.
    pub fn slot(self) -> Option<Slot> {
        match self {
            Activity::ValidateOrder => Some(Slot::Validation),
            Activity::ChargePayment | Activity::RefundPayment => Some(Slot::Payment),
            Activity::PreparePackage | Activity::DispatchCarrier => Some(Slot::Shipping),
            Activity::ReceiveOrder | Activity::ShipOrder | Activity::RecordState => None,
        }
    }

    /// The task queue its workflow (and so it) runs on.
    pub fn queue(self) -> Queue {
        match self {
            Activity::PreparePackage | Activity::DispatchCarrier | Activity::ShipOrder => Queue::Shipping,
            _ => Queue::Orders,
        }
    }

    /// A business activity runs failure simulation and writes one event per attempt (not `record_state`).
    pub fn is_business(self) -> bool {
        self != Activity::RecordState
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Activity::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let all: Vec<_> = Activity::ALL.iter().map(|a| a.name()).collect();
            format!("unknown activity {s:?}: expected one of {}", all.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_slots_match_queues() {
        for activity in Activity::ALL {
            assert_eq!(activity.name().parse::<Activity>().unwrap(), activity);
            if activity.slot() == Some(Slot::Shipping) {
                assert_eq!(activity.queue(), Queue::Shipping);
            }
        }
        assert!("charge".parse::<Activity>().is_err());
    }
}
