//! The default payment processor component: binds the `payment-processor` world to the gateway in [`rules`].

pub mod rules;

wit_bindgen::generate!({
    path: "../../wit",
    world: "payment-processor",
});

use order::plugins::log::{Level, log};

struct Payment;

impl Guest for Payment {
    fn info() -> PluginInfo {
        PluginInfo { name: env!("CARGO_PKG_NAME").to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() }
    }

    fn charge(request: ChargeRequest) -> Result<Receipt, ActivityError> {
        match rules::charge(&request.payment_id, request.amount_cents, rules::AMOUNT_LIMIT_CENTS, "txn-") {
            Ok(transaction_id) => {
                Ok(Receipt { payment_id: request.payment_id, transaction_id, amount_cents: request.amount_cents })
            }
            Err(decline) => {
                log(Level::Info, &format!("{}: {}", request.payment_id, decline.message()));
                Err(ActivityError::Permanent(Failure { code: decline.code().to_owned(), message: decline.message() }))
            }
        }
    }

    fn refund(request: RefundRequest) -> Result<RefundReceipt, ActivityError> {
        if request.payment_id.is_empty() {
            return Err(ActivityError::Permanent(Failure {
                code: "missing_payment_id".to_owned(),
                message: "refund refused: the payment id is empty".to_owned(),
            }));
        }
        Ok(RefundReceipt {
            refund_id: rules::refund_id(&request.payment_id),
            payment_id: request.payment_id,
            amount_cents: request.amount_cents,
        })
    }
}

export!(Payment);
