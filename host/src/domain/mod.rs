//! Pure types and rules of the order lifecycle: no I/O, no clocks. Parsing happens here, once, so the layers above
//! handle typed values (parse, don't validate).

mod order;
mod state;
mod status;

pub use order::{Address, AddressError, Item, OrderId, OrderIdError, OrderInput, OrderOptions, TimeoutAction};
pub use state::OrderState;
pub use status::{
    ApprovalStatus, PaymentState, PaymentStatus, PluginRun, RecentError, ShippingStatus, StatusDocument, WorkflowStatus,
};
