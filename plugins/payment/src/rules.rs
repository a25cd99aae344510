//! The simulated payment gateway, free of Wasm bindings so it can be tested natively.
//!
//! Deterministic by design: the same payment id always yields the same transaction and refund ids, which is what makes
//! a retried `charge_payment` activity safe.

/// Charges above this many cents ($10,000.00) are declined for good.
pub const AMOUNT_LIMIT_CENTS: u64 = 1_000_000;

/// Why the gateway said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decline {
    /// Nothing to charge.
    ZeroAmount,
    /// Above [`AMOUNT_LIMIT_CENTS`].
    OverLimit { amount_cents: u64, limit_cents: u64 },
    /// The payment id is empty.
    MissingPaymentId,
}

impl Decline {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Decline::ZeroAmount => "zero_amount",
            Decline::OverLimit { .. } => "amount_over_limit",
            Decline::MissingPaymentId => "missing_payment_id",
        }
    }

    /// A human sentence.
    pub fn message(&self) -> String {
        match self {
            Decline::ZeroAmount => "declined: the amount is zero".to_owned(),
            Decline::OverLimit { amount_cents, limit_cents } => {
                format!("declined: {} exceeds the limit of {}", dollars(*amount_cents), dollars(*limit_cents))
            }
            Decline::MissingPaymentId => "declined: the payment id is empty".to_owned(),
        }
    }
}

/// Decides a charge and derives its transaction id (`<prefix><hash of payment id>`).
pub fn charge(payment_id: &str, amount_cents: u64, limit_cents: u64, prefix: &str) -> Result<String, Decline> {
    if payment_id.is_empty() {
        return Err(Decline::MissingPaymentId);
    }
    if amount_cents == 0 {
        return Err(Decline::ZeroAmount);
    }
    if amount_cents > limit_cents {
        return Err(Decline::OverLimit { amount_cents, limit_cents });
    }
    Ok(format!("{prefix}{:016x}", fnv1a(payment_id.as_bytes())))
}

/// Derives the refund id of a payment.
pub fn refund_id(payment_id: &str) -> String {
    format!("rfd-{:016x}", fnv1a(payment_id.as_bytes()))
}

/// FNV-1a, 64 bits: tiny, stable across builds and platforms.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn dollars(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_payment_id_same_transaction() {
        let a = charge("payment-456", 4200, AMOUNT_LIMIT_CENTS, "txn-").unwrap();
        let b = charge("payment-456", 4200, AMOUNT_LIMIT_CENTS, "txn-").unwrap();
        let c = charge("payment-457", 4200, AMOUNT_LIMIT_CENTS, "txn-").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with("txn-") && a.len() == 4 + 16, "{a}");
    }

    #[test]
    fn limit_is_inclusive() {
        assert!(charge("p", AMOUNT_LIMIT_CENTS, AMOUNT_LIMIT_CENTS, "txn-").is_ok());
        let err = charge("p", AMOUNT_LIMIT_CENTS + 1, AMOUNT_LIMIT_CENTS, "txn-").unwrap_err();
        assert_eq!(err.code(), "amount_over_limit");
        assert_eq!(err.message(), "declined: $10000.01 exceeds the limit of $10000.00");
    }

    #[test]
    fn zero_and_missing_id_are_declined() {
        assert_eq!(charge("p", 0, AMOUNT_LIMIT_CENTS, "txn-"), Err(Decline::ZeroAmount));
        assert_eq!(charge("", 1, AMOUNT_LIMIT_CENTS, "txn-"), Err(Decline::MissingPaymentId));
    }

    #[test]
    fn refund_ids_are_stable() {
        assert_eq!(refund_id("payment-456"), refund_id("payment-456"));
        assert_ne!(refund_id("payment-456"), refund_id("payment-457"));
    }

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
