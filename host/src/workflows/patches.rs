//! Patch ids: each marks a change of command order, so runs recorded before it replay on the old path.

/// The shipping child's wait for the dispatch approval is bounded by a timer ([`super::shipping`]).
pub const BOUNDED_DISPATCH_WAIT: &str = "bounded-dispatch-wait";

/// The lifecycle's money-and-ownership guards ([`crate::domain::Lifecycle::keep_original_rules`] when absent).
pub const MONEY_AND_OWNERSHIP: &str = "money-and-ownership";

/// Every state of an order is written to the `OrderState` search attribute ([`super::order`]).
pub const ORDER_STATE_SEARCH_ATTRIBUTE: &str = "order-state-search-attribute";

/// Business steps run as local activities ([`super::step`]): no activity task per step. A run with this patch has
/// every older one without recording them. A shipping child takes it only when its parent asks
/// ([`crate::domain::payloads::ShippingInput::local_steps`]).
pub const LOCAL_STEPS: &str = "local-steps";

/// Shipments are started with the go-ahead: the child dispatches without asking, and the parent asks it about cancels
/// and address changes instead ([`crate::domain::lifecycle::Dispatch::Delegated`]). Implies [`LOCAL_STEPS`]; a
/// shipping child takes it only when its parent asks ([`crate::domain::payloads::ShippingInput::delegated`]).
pub const DELEGATED_DISPATCH: &str = "delegated-dispatch";

/// A delegated shipment commits its decision to dispatch (a 1 ms timer) before it dispatches, no longer after: the
/// workflow task that dispatches can then be run again — its worker died in it, or the server refused its completion
/// because a change arrived meanwhile — and still finds the decision in the history, where a run of the task from
/// the start would take a stop or an address for a parcel that the lost run already handed to the carrier. Implies
/// [`DELEGATED_DISPATCH`] (one marker per run). Children of today's parents no longer take it: they claim the
/// decision in the database instead, without a marker ([`crate::domain::payloads::ShippingInput::claims`]).
pub const COMMITTED_DISPATCH: &str = "committed-dispatch";

/// A cancel that ends an approved order before the run heard of a charge refunds whatever was charged
/// ([`crate::domain::Lifecycle::refund_unheard_charges`]): the task that heard the approval charges in it, and a run
/// of that task lost after the charge leaves the money taken where the run again never charges. Taken only by runs
/// that come to that point, so other orders record no marker for it.
pub const REFUND_UNHEARD_CHARGES: &str = "refund-unheard-charges";

/// The revision of the lifecycle a starter may ask for in the workflow input (`"revision": 1`, see
/// [`super::messages::start_input`]): a run asked for it takes [`DELEGATED_DISPATCH`] — and with it every older patch
/// above — without recording a marker. A marker is an event and a `TemporalChangeVersion` upsert that the server
/// indexes, on every order; the input, recorded before the first workflow task, says the same for free. Such a run
/// replays by the same rule: asked, with none of the markers above in its history, it ran this revision; a run of it
/// that older code took (which ignores the field) replays the path its markers name. Only this exact number is taken:
/// an order asking for a revision this code does not know runs with markers, so that the code that knows it replays
/// it as it ran. The REST API, the harness and the same-shape floor ask for it; a start without it (the `temporal`
/// CLI, older clients) records the marker as before.
pub const REVISION: u32 = 1;
