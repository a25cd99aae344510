//! The `shipper` world: thin bindings over [`rules`], which holds the logic and its tests.

pub mod rules;

// Generates the world's types and the `Guest` trait from the copy of the host's WIT in `wit/`.
wit_bindgen::generate!({ path: "wit", world: "shipper" });

// Types the world does not `use` live under their interface's path.
use order::plugins::log::{Level, log};
use order::plugins::types::BoxSize;

struct Plugin;

impl Guest for Plugin {
    fn info() -> PluginInfo {
        PluginInfo { name: env!("CARGO_PKG_NAME").to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() }
    }

    fn prepare_package(order: Order) -> Result<Package, ActivityError> {
        let units = order.items.iter().fold(0u32, |sum, item| sum.saturating_add(item.quantity));
        let parcel = rules::parcel(units);
        Ok(Package {
            package_id: rules::package_id(&order.order_id, order.shipment),
            weight_grams: parcel.weight_grams,
            box_: match parcel.size {
                rules::Size::Small => BoxSize::Small,
                rules::Size::Medium => BoxSize::Medium,
                rules::Size::Large => BoxSize::Large,
                rules::Size::Freight => BoxSize::Freight,
            },
            units,
        })
    }

    fn dispatch_carrier(order: Order, package: Package) -> Result<Dispatch, ActivityError> {
        match rules::tracking(&order.order_id, order.shipment, &order.address.zip_code) {
            Ok(tracking) => {
                log(Level::Info, &format!("{} handed to {} as {tracking}", package.package_id, rules::CARRIER));
                Ok(Dispatch { carrier: rules::CARRIER.to_owned(), tracking, eta_days: rules::ETA_DAYS })
            }
            // Permanent: this shipment will never go; the host counts it as a failed dispatch. A busy carrier would
            // be `ActivityError::Retryable`, which the host tries again.
            Err(message) => Err(ActivityError::Permanent(Failure { code: "undeliverable".to_owned(), message })),
        }
    }
}

export!(Plugin);
