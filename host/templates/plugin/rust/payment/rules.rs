//! The payment rules, free of component bindings so `cargo test` runs them natively.
//!
//! A real gateway would be called here; this one only decides. Whatever it does, a charge must be idempotent by
//! payment id: the host may call `charge` again for the same payment (a retry after a timeout), and the same id must
//! never take the money twice. Deriving every id from the payment id gives that for free.

/// Why a payment was declined: a stable machine-readable `code` and a human `message`.
#[derive(Debug, PartialEq, Eq)]
pub struct Decline {
    pub code: &'static str,
    pub message: String,
}

/// The transaction id of a charge of `amount_cents` under `payment_id`, or why it is declined.
pub fn transaction_id(payment_id: &str, amount_cents: u64) -> Result<String, Decline> {
    if payment_id.is_empty() {
        return Err(Decline { code: "missing_payment_id", message: "declined: the payment id is empty".to_owned() });
    }
    if amount_cents == 0 {
        return Err(Decline { code: "zero_amount", message: "declined: the amount is zero".to_owned() });
    }
    Ok(format!("txn-{payment_id}"))
}

/// The refund id of a payment: the same on every retry.
pub fn refund_id(payment_id: &str) -> Result<String, Decline> {
    if payment_id.is_empty() {
        return Err(Decline {
            code: "missing_payment_id",
            message: "refund refused: the payment id is empty".to_owned(),
        });
    }
    Ok(format!("rfd-{payment_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_payment_always_gets_the_same_ids_and_bad_ones_are_declined() {
        assert_eq!(transaction_id("pay-1", 4200), transaction_id("pay-1", 4200));
        assert_ne!(transaction_id("pay-1", 4200), transaction_id("pay-2", 4200));
        assert_eq!(transaction_id("pay-1", 0).unwrap_err().code, "zero_amount");
        assert_eq!(transaction_id("", 4200).unwrap_err().code, "missing_payment_id");
        assert_eq!(refund_id("pay-1"), refund_id("pay-1"));
        assert!(refund_id("").is_err());
    }
}
