//! The `validator` world: thin bindings over [`rules`], which holds the logic and its tests.

pub mod rules;

// Generates the world's types and the `Guest` trait from the copy of the host's WIT in `wit/`.
wit_bindgen::generate!({ path: "wit", world: "validator" });

// Types the world does not `use` live under their interface's path.
use order::plugins::log::{Level, log};

struct Plugin;

impl Guest for Plugin {
    fn info() -> PluginInfo {
        PluginInfo { name: env!("CARGO_PKG_NAME").to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() }
    }

    fn validate(order: Order) -> Result<ValidatedOrder, ActivityError> {
        let lines: Vec<rules::Line<'_>> = order
            .items
            .iter()
            .map(|item| rules::Line {
                sku: &item.sku,
                quantity: item.quantity,
                unit_price_cents: item.unit_price_cents,
            })
            .collect();
        match rules::total(&lines) {
            Ok(total_cents) => Ok(ValidatedOrder { order, total_cents }),
            Err(problems) => {
                let message = problems.join("; ");
                log(Level::Info, &format!("{}: {message}", order.order_id));
                // Permanent: the same order will never pass; the host rejects it without retrying.
                Err(ActivityError::Permanent(Failure { code: "invalid_order".to_owned(), message }))
            }
        }
    }
}

export!(Plugin);
