//! The workflows: deterministic Rust compiled into the host. No I/O, no clocks, no randomness here — everything
//! that touches the world is an activity, everything that waits is a timer or a condition on workflow state.
//!
//! - [`OrderWorkflow`] (queue `orders`): a thin driver of [`crate::domain::lifecycle`], where every rule lives:
//!   receive → validate → approval → charge → shipping child(ren) → shipped, or cancelled / rejected / failed with
//!   compensation (refund) where money was taken.
//! - [`ShippingWorkflow`] (queue `shipping`): prepare → dispatch → ship, on its own authority (delegated dispatch,
//!   patch `delegated-dispatch`): no round trip to the parent on the way. The parent asks it about a cancel or an
//!   address change that arrives meanwhile (`change_shipment`); it takes them until its dispatch begins and refuses
//!   them after, and the update that asked is answered then. A stop counts only once the child has ended cancelled,
//!   which it does only before dispatching, so a package is never both dispatched and refunded. Runs recorded before
//!   keep the handshake: prepare → ask the parent (`package_ready`) → its approval with the final address → dispatch.
//!   It signals its parent by name ([`messages::PACKAGE_READY`], [`messages::DISPATCH_FAILED`],
//!   [`messages::SHIPMENT_CHANGE_ANSWERED`]), so the two modules do not import each other.
//! - [`published`]: each running order's status document as this process's worker last left it, for status reads
//!   that need no query.
//! - [`messages`]: the start input and signal and update payloads, decoded once into the lifecycle's commands;
//!   [`patches`]: what changed the command order, and the revision a starter asks for; [`options`]: timeouts and
//!   retry policies; [`step`]: business steps as local activities (one workflow task instead of an activity task
//!   and a workflow task per step).

mod failure;
pub mod messages;
mod options;
mod order;
pub mod patches;
pub mod published;
mod shipping;
mod step;

pub use order::OrderWorkflow;
pub use shipping::ShippingWorkflow;
