//! The `payment-processor` world: thin bindings over [`rules`], which holds the logic and its tests.

pub mod rules;

// Generates the world's types and the `Guest` trait from the copy of the host's WIT in `wit/`.
wit_bindgen::generate!({ path: "wit", world: "payment-processor" });

// Types the world does not `use` live under their interface's path.
use order::plugins::log::{Level, log};

struct Plugin;

fn permanent(decline: &rules::Decline) -> ActivityError {
    // Permanent: the same request will never pass; the host rejects the order (or gives up a refund) at once.
    // `ActivityError::Retryable` instead makes the host try the call again later.
    ActivityError::Permanent(Failure { code: decline.code.to_owned(), message: decline.message.clone() })
}

impl Guest for Plugin {
    fn info() -> PluginInfo {
        PluginInfo { name: env!("CARGO_PKG_NAME").to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() }
    }

    fn charge(request: ChargeRequest) -> Result<Receipt, ActivityError> {
        match rules::transaction_id(&request.payment_id, request.amount_cents) {
            Ok(transaction_id) => {
                Ok(Receipt { payment_id: request.payment_id, transaction_id, amount_cents: request.amount_cents })
            }
            Err(decline) => {
                log(Level::Info, &format!("{}: {}", request.payment_id, decline.message));
                Err(permanent(&decline))
            }
        }
    }

    fn refund(request: RefundRequest) -> Result<RefundReceipt, ActivityError> {
        let refund_id = rules::refund_id(&request.payment_id).map_err(|decline| permanent(&decline))?;
        Ok(RefundReceipt { refund_id, payment_id: request.payment_id, amount_cents: request.amount_cents })
    }
}

export!(Plugin);
