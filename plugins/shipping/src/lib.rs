//! The default shipper component: binds the `shipper` world to the rules in [`rules`].

pub mod rules;

wit_bindgen::generate!({
    path: "../../wit",
    world: "shipper",
});

use order::plugins::log::{Level, log};
use order::plugins::types::BoxSize;

struct Shipping;

impl Guest for Shipping {
    fn info() -> PluginInfo {
        PluginInfo { name: env!("CARGO_PKG_NAME").to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() }
    }

    fn prepare_package(order: Order) -> Result<Package, ActivityError> {
        let items = order.items.iter().map(|i| (i.sku.as_str(), i.quantity));
        match rules::prepare(&order.order_id, order.shipment, items) {
            Ok(parcel) => Ok(Package {
                package_id: parcel.package_id,
                weight_grams: parcel.weight_grams,
                box_: to_wit(parcel.boxed),
                units: parcel.units,
            }),
            Err(_) => Err(permanent("empty_order", "nothing to pack: the order has no units".to_owned())),
        }
    }

    fn dispatch_carrier(order: Order, package: Package) -> Result<Dispatch, ActivityError> {
        match rules::dispatch(&order.order_id, order.shipment, &order.address.zip_code, from_wit(package.box_)) {
            Ok(handover) => {
                log(Level::Info, &format!("{} handed to {}", package.package_id, handover.carrier));
                Ok(Dispatch {
                    carrier: handover.carrier.to_owned(),
                    tracking: handover.tracking,
                    eta_days: handover.eta_days,
                })
            }
            Err(rules::Refusal::Undeliverable(zip)) => {
                Err(permanent("address_undeliverable", format!("no carrier delivers to ZIP code {zip}")))
            }
            Err(rules::Refusal::Empty) => Err(permanent("empty_order", "nothing to dispatch".to_owned())),
        }
    }
}

fn permanent(code: &str, message: String) -> ActivityError {
    ActivityError::Permanent(Failure { code: code.to_owned(), message })
}

fn to_wit(b: rules::Carton) -> BoxSize {
    match b {
        rules::Carton::Small => BoxSize::Small,
        rules::Carton::Medium => BoxSize::Medium,
        rules::Carton::Large => BoxSize::Large,
        rules::Carton::Freight => BoxSize::Freight,
    }
}

fn from_wit(b: BoxSize) -> rules::Carton {
    match b {
        BoxSize::Small => rules::Carton::Small,
        BoxSize::Medium => rules::Carton::Medium,
        BoxSize::Large => rules::Carton::Large,
        BoxSize::Freight => rules::Carton::Freight,
    }
}

export!(Shipping);
