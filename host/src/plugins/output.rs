//! How much a plugin hands back: every string and list of a result (and of `info()`, and of an error) counted, so
//! that an answer larger than `PLUGIN_MAX_OUTPUT` becomes a plugin error here and never reaches the database, the
//! logs or a Temporal payload.

use super::bindings::wit;

/// The code of the permanent error an oversized answer becomes.
pub(crate) const OUTPUT_TOO_LARGE: &str = "output_too_large";

/// Bytes of strings plus a few bytes per list element and number: what the value would cost downstream.
pub(crate) trait OutputSize {
    fn output_bytes(&self) -> usize;
}

/// A number or an enum: counted as a few bytes.
const SCALAR: usize = 8;

impl OutputSize for String {
    fn output_bytes(&self) -> usize {
        self.len()
    }
}

impl<T: OutputSize> OutputSize for Vec<T> {
    fn output_bytes(&self) -> usize {
        self.iter().map(OutputSize::output_bytes).fold(0, usize::saturating_add)
    }
}

/// Sums the fields' sizes; `scalars` counts the numeric fields.
macro_rules! output_size {
    ($ty:ty { $($field:ident),* } + $scalars:expr) => {
        impl OutputSize for $ty {
            fn output_bytes(&self) -> usize {
                [$(self.$field.output_bytes()),*].into_iter().fold($scalars * SCALAR, usize::saturating_add)
            }
        }
    };
}

output_size!(wit::Address { street, city, state, zip_code } + 0);
output_size!(wit::Item { sku } + 2);
output_size!(wit::Order { order_id, payment_id, items, address } + 2);
output_size!(wit::ValidatedOrder { order } + 1);
output_size!(wit::Receipt { payment_id, transaction_id } + 1);
output_size!(wit::RefundReceipt { payment_id, refund_id } + 1);
output_size!(wit::Package { package_id } + 3);
output_size!(wit::Dispatch { carrier, tracking } + 1);
output_size!(wit::PluginInfo { name, version } + 0);
output_size!(wit::Failure { code, message } + 0);

impl OutputSize for wit::ActivityError {
    fn output_bytes(&self) -> usize {
        match self {
            wit::ActivityError::Retryable(f) | wit::ActivityError::Permanent(f) => f.output_bytes(),
        }
    }
}

impl<T: OutputSize, E: OutputSize> OutputSize for Result<T, E> {
    fn output_bytes(&self) -> usize {
        match self {
            Ok(v) => v.output_bytes(),
            Err(e) => e.output_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_and_list_counts() {
        let failure = wit::Failure { code: "x".into(), message: "m".repeat(1000) };
        assert_eq!(failure.output_bytes(), 1001);
        let receipt = wit::Receipt { payment_id: "p".into(), transaction_id: "t".repeat(30 << 20), amount_cents: 1 };
        assert_eq!(receipt.output_bytes(), 1 + (30 << 20) + SCALAR);
        let item = wit::Item { sku: "SKU".into(), quantity: 1, unit_price_cents: 1 };
        let address = wit::Address { street: "s".into(), city: "c".into(), state: "IL".into(), zip_code: "1".into() };
        let order = wit::Order {
            order_id: "o".into(),
            payment_id: "p".into(),
            items: vec![item; 1000],
            address,
            shipment: 0,
            attempt: 1,
        };
        assert_eq!(order.output_bytes(), 2 + 1000 * (3 + 2 * SCALAR) + 5 + 2 * SCALAR);
    }
}
