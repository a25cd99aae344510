//! The activities: thin host functions. Each attempt runs failure simulation, then calls the plugin for its slot,
//! persists the outcome idempotently and appends an event naming the attempt, its outcome and the plugin digest.
//!
//! Retryability is decided once, here: a plugin's `permanent` error and store conflicts become non-retryable
//! Temporal failures; everything else (traps, timeouts, memory limits, unreachable databases, simulated failures) is
//! retried by Temporal's retry policy.

mod attempt;
pub use attempt::REFUSED;
pub mod failure;
mod order;
mod shipping;

use std::sync::Arc;
use std::time::Duration;

pub use attempt::failure_types;
pub use failure::{FailureMode, FailureSimulation};
pub use order::OrderActivities;
pub use shipping::ShippingActivities;

/// What workflows and activities exchange; defined beside the lifecycle in [`crate::domain`].
pub use crate::domain::payloads;

use crate::domain::OrderSettings;
use crate::domain::{OrderOptions, TimeoutAction};
use crate::metrics::Metrics;
use crate::plugins::Registry;
use crate::store::{NewEvent, Store, StoreError, Transition};

/// The worker's defaults for orders that do not bring their own options.
#[derive(Debug, Clone)]
pub struct OrderDefaults {
    pub approval_timeout: Duration,
    pub approval_timeout_action: TimeoutAction,
    pub max_shipping_attempts: u32,
    pub shipping_task_queue: String,
    pub activity_timeout: Duration,
}

impl OrderDefaults {
    /// These defaults overridden by an order's own options (checked by the caller), each held to the longest
    /// and largest an order may have whatever the configuration says.
    pub fn settle(&self, options: &OrderOptions) -> OrderSettings {
        let approval_timeout = options.approval_timeout().unwrap_or(self.approval_timeout);
        let approval_timeout_ms = u64::try_from(approval_timeout.as_millis()).unwrap_or(u64::MAX);
        let attempts = options.max_shipping_attempts.unwrap_or(self.max_shipping_attempts);
        OrderSettings {
            approval_timeout_ms: approval_timeout_ms.min(OrderOptions::MAX_APPROVAL_TIMEOUT_MS),
            approval_timeout_action: options.approval_timeout_action.unwrap_or(self.approval_timeout_action),
            max_shipping_attempts: attempts.clamp(1, OrderOptions::MAX_SHIPPING_ATTEMPTS),
            shipping_task_queue: self.shipping_task_queue.clone(),
            activity_timeout_ms: self.activity_timeout.as_millis() as u64,
        }
    }
}

/// What every activity needs.
#[derive(Debug, Clone)]
pub struct ActivityDeps {
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    /// Versions other than the active one (a refund runs on the version that charged).
    pub rollout: Arc<crate::rollout::Rollout>,
    pub failure: FailureSimulation,
    pub defaults: OrderDefaults,
    pub metrics: Arc<Metrics>,
}

/// Writes a state the order entered (`record_state`'s work, also done first by a step that carries it): the
/// `attention` event if any, the state if its sequence number is newer than the row's, and a `state` event when it
/// was (one trip to the database). Whether the state was applied.
pub(crate) async fn write_state(store: &dyn Store, input: &payloads::RecordStateInput) -> Result<bool, StoreError> {
    if let Some(attention) = &input.attention {
        // Before the state: a retried write then finds the state applied and would not come back here. A retry may
        // repeat the event; readers count orders, not events.
        tracing::error!(order_id = %input.order_id, %attention, "order needs attention");
        let event = NewEvent { message: Some(attention.clone()), ..NewEvent::new(&input.order_id, "attention") };
        store.append_event(&event).await?;
    }
    let transition = Transition {
        seq: input.seq,
        state: Some(input.state),
        step: Some(input.step.clone()),
        address: input.address.clone(),
        ..Transition::default()
    };
    let event = NewEvent {
        state: Some(input.state),
        message: input.message.clone(),
        details: Some(serde_json::json!({ "step": input.step })),
        ..NewEvent::new(&input.order_id, "state")
    };
    store.transition_with_event(&input.order_id, &transition, &event).await
}

#[cfg(test)]
mod tests {
    use super::{OrderActivities, ShippingActivities};
    use crate::domain::Activity;

    /// The `#[activity(name = …)]` attributes need literals; this keeps them equal to [`Activity`]'s names.
    #[test]
    fn registered_names_are_the_activity_names() {
        let registered = [
            (OrderActivities::receive_order.name(), Activity::ReceiveOrder),
            (OrderActivities::validate_order.name(), Activity::ValidateOrder),
            (OrderActivities::charge_payment.name(), Activity::ChargePayment),
            (OrderActivities::refund_payment.name(), Activity::RefundPayment),
            (OrderActivities::record_state.name(), Activity::RecordState),
            (ShippingActivities::prepare_package.name(), Activity::PreparePackage),
            (ShippingActivities::dispatch_carrier.name(), Activity::DispatchCarrier),
            (ShippingActivities::ship_order.name(), Activity::ShipOrder),
        ];
        for (name, activity) in registered {
            assert_eq!(name, activity.name());
        }
    }
}
