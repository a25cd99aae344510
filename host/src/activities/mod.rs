//! The activities: thin host functions. Each attempt runs failure simulation, then calls the plugin for its slot,
//! persists the outcome idempotently and appends an event naming the attempt, its outcome and the plugin digest.
//!
//! Retryability is decided once, here: a plugin's `permanent` error and store conflicts become non-retryable
//! Temporal failures; everything else (traps, timeouts, memory limits, unreachable databases, simulated failures) is
//! retried by Temporal's retry policy.

mod attempt;
pub mod convert;
pub mod failure;
mod order;
pub mod payloads;
mod shipping;

use std::sync::Arc;
use std::time::Duration;

pub use attempt::failure_types;
pub use failure::{FailureMode, FailureSimulation};
pub use order::OrderActivities;
pub use shipping::ShippingActivities;

use crate::domain::{OrderOptions, TimeoutAction};
use crate::metrics::Metrics;
use crate::plugins::Registry;
use crate::store::Store;
use payloads::OrderSettings;

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
    /// These defaults overridden by an order's own options.
    pub fn settle(&self, options: &OrderOptions) -> OrderSettings {
        OrderSettings {
            approval_timeout_ms: options.approval_timeout().unwrap_or(self.approval_timeout).as_millis() as u64,
            approval_timeout_action: options.approval_timeout_action.unwrap_or(self.approval_timeout_action),
            max_shipping_attempts: options.max_shipping_attempts.unwrap_or(self.max_shipping_attempts).max(1),
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
    pub failure: FailureSimulation,
    pub defaults: OrderDefaults,
    pub metrics: Arc<Metrics>,
}
