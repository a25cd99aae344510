//! The default validator component: binds the `validator` world to the rules in [`rules`].

pub mod rules;

wit_bindgen::generate!({
    path: "../../wit",
    world: "validator",
});

use order::plugins::log::{Level, log};

struct Validation;

impl Guest for Validation {
    fn info() -> PluginInfo {
        PluginInfo { name: env!("CARGO_PKG_NAME").to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() }
    }

    fn validate(mut order: Order) -> Result<ValidatedOrder, ActivityError> {
        let items: Vec<rules::Item<'_>> = order
            .items
            .iter()
            .map(|i| rules::Item { sku: &i.sku, quantity: i.quantity, unit_price_cents: i.unit_price_cents })
            .collect();
        let a = &order.address;
        let address = rules::Address { street: &a.street, city: &a.city, state: &a.state, zip_code: &a.zip_code };
        match rules::validate(&items, &address) {
            Ok(valid) => {
                order.address.state = valid.state;
                Ok(ValidatedOrder { order, total_cents: valid.total_cents })
            }
            Err(problems) => {
                let message = rules::describe(&problems);
                log(Level::Info, &format!("{}: {message}", order.order_id));
                Err(ActivityError::Permanent(Failure { code: "invalid_order".to_owned(), message }))
            }
        }
    }
}

export!(Validation);
