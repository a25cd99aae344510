//! The seed's sample cart: what `POST /orders/{id}/start` uses when a body brings no items or address, and the one
//! reference order of tests, benchmarks and a plugin's trial call. 2 × `SKU-001` at $15.00 and 1 × `SKU-002` at
//! $12.00 ($42.00), to 123 Main St, Springfield, IL 62701.

use super::{Address, Item};

/// The sample cart's items.
pub fn items() -> Vec<Item> {
    vec![
        Item { sku: "SKU-001".into(), quantity: 2, unit_price_cents: 1500 },
        Item { sku: "SKU-002".into(), quantity: 1, unit_price_cents: 1200 },
    ]
}

/// The sample cart's address.
pub fn address() -> Address {
    Address { street: "123 Main St".into(), city: "Springfield".into(), state: "IL".into(), zip_code: "62701".into() }
}

/// The sample cart's total in cents.
pub const TOTAL_CENTS: u64 = 4200;

#[cfg(test)]
mod tests {
    #[test]
    fn the_total_matches_the_items() {
        let total: u64 = super::items().iter().map(|i| u64::from(i.quantity) * i.unit_price_cents).sum();
        assert_eq!(total, super::TOTAL_CENTS);
        assert!(super::super::Address::parse(&super::address()).is_ok());
    }
}
