//! The workflows: deterministic Rust compiled into the host. No I/O, no clocks, no randomness here — everything
//! that touches the world is an activity, everything that waits is a timer or a condition on workflow state.
//!
//! - [`OrderWorkflow`] (queue `orders`): a thin driver of [`crate::domain::lifecycle`], where every rule lives:
//!   receive → validate → approval → charge → shipping child(ren) → shipped, or cancelled / rejected / failed with
//!   compensation (refund) where money was taken.
//! - [`ShippingWorkflow`] (queue `shipping`): prepare → ask the parent for dispatch → dispatch → ship. The parent's
//!   dispatch approval carries the final address and is the moment after which cancels and address changes are
//!   refused, so a package is never both dispatched and refunded. It signals its parent by name
//!   ([`messages::PACKAGE_READY`], [`messages::DISPATCH_FAILED`]), so the two modules do not import each other.
//! - [`messages`]: signal and update payloads decoded once into the lifecycle's commands; [`options`]: timeouts and
//!   retry policies; [`step`]: business steps as local activities (one workflow task instead of an activity task
//!   and a workflow task per step).

mod failure;
pub mod messages;
mod options;
mod order;
mod patches;
mod shipping;
mod step;

pub use order::OrderWorkflow;
pub use shipping::ShippingWorkflow;
