//! Domain values to and from the WIT types the plugins see.

use crate::domain::{Address, Item, OrderInput, PluginRun};
use crate::plugins::{PluginMeta, wit};

/// The WIT order for a call made by `attempt` of an activity during `shipment` (0 before shipping).
pub fn order(o: &OrderInput, shipment: u32, attempt: u32) -> wit::Order {
    wit::Order {
        order_id: o.order_id.clone(),
        payment_id: o.payment_id.clone(),
        items: o
            .items
            .iter()
            .map(|i| wit::Item { sku: i.sku.clone(), quantity: i.quantity, unit_price_cents: i.unit_price_cents })
            .collect(),
        address: wit::Address {
            street: o.address.street.clone(),
            city: o.address.city.clone(),
            state: o.address.state.clone(),
            zip_code: o.address.zip_code.clone(),
        },
        shipment,
        attempt,
    }
}

/// The order a validator returned, keeping the caller's options.
pub fn order_back(w: wit::Order, options: &OrderInput) -> OrderInput {
    OrderInput {
        order_id: w.order_id,
        payment_id: w.payment_id,
        items: w
            .items
            .into_iter()
            .map(|i| Item { sku: i.sku, quantity: i.quantity, unit_price_cents: i.unit_price_cents })
            .collect(),
        address: Address {
            street: w.address.street,
            city: w.address.city,
            state: w.address.state,
            zip_code: w.address.zip_code,
        },
        options: options.options.clone(),
    }
}

/// What the status document says about the plugin version that ran a step.
pub fn plugin_run(meta: &PluginMeta) -> PluginRun {
    PluginRun { name: meta.name.clone(), version: meta.version.clone(), digest: meta.digest.to_string() }
}

/// A WIT box size's name.
pub fn box_size(b: wit::BoxSize) -> &'static str {
    match b {
        wit::BoxSize::Small => "small",
        wit::BoxSize::Medium => "medium",
        wit::BoxSize::Large => "large",
        wit::BoxSize::Freight => "freight",
    }
}

/// The WIT box size of a name written by [`box_size`] (unknown names count as freight: the most careful handling).
pub fn box_size_back(name: &str) -> wit::BoxSize {
    match name {
        "small" => wit::BoxSize::Small,
        "medium" => wit::BoxSize::Medium,
        "large" => wit::BoxSize::Large,
        _ => wit::BoxSize::Freight,
    }
}
