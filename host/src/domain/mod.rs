//! Pure types and rules of the order lifecycle: no I/O, no clocks, no Temporal. Parsing happens here, once, so the
//! layers above handle typed values (parse, don't validate).
//!
//! - [`lifecycle`]: the order as one state machine — [`Lifecycle`], typed [`Command`]s, one decision function;
//! - [`order`]: ids, addresses, items, the workflow's input; [`sample`]: the one sample cart;
//! - [`activity`]: every activity's name, slot and queue; [`payloads`]: what workflows and activities exchange;
//! - [`status`]: the status document; [`state`]: the states written to `orders.state`.

pub mod activity;
pub mod lifecycle;
mod order;
pub mod payloads;
pub mod sample;
mod state;
mod status;

pub use activity::{Activity, Queue};
pub use lifecycle::{Command, Decision, End, Lifecycle, Next, Refusal};
pub use order::{
    Address, AddressError, Item, OptionsError, OrderId, OrderIdError, OrderInput, OrderOptions, PaymentId,
    PaymentIdError, TimeoutAction, shipping_workflow_id,
};
pub use payloads::OrderSettings;
pub use state::OrderState;
pub use status::{
    ApprovalStatus, PaymentState, PaymentStatus, PluginRun, RecentError, ShippingStatus, StatusDocument, WorkflowStatus,
};
