//! The shipping rules, free of component bindings so `cargo test` runs them natively.

/// The carrier this plugin hands parcels to.
pub const CARRIER: &str = "Example Parcel";
/// Expected days in transit.
pub const ETA_DAYS: u32 = 3;

/// The size class of a parcel's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Small,
    Medium,
    Large,
    Freight,
}

/// A parcel's weight (with its box) and size.
#[derive(Debug, PartialEq, Eq)]
pub struct Parcel {
    pub weight_grams: u32,
    pub size: Size,
}

/// Every unit is taken to weigh 250 g, the box 100 g.
pub fn parcel(units: u32) -> Parcel {
    let weight_grams = units.saturating_mul(250).saturating_add(100);
    let size = match weight_grams {
        0..=1_000 => Size::Small,
        1_001..=5_000 => Size::Medium,
        5_001..=20_000 => Size::Large,
        _ => Size::Freight,
    };
    Parcel { weight_grams, size }
}

/// The parcel's id: stable for the same order and shipment, so a retried call names the same parcel.
pub fn package_id(order_id: &str, shipment: u32) -> String {
    format!("pkg-{order_id}-{shipment}")
}

/// The tracking number of a dispatch, or why the address cannot be served.
pub fn tracking(order_id: &str, shipment: u32, zip_code: &str) -> Result<String, String> {
    if zip_code.is_empty() {
        return Err(format!("{order_id}: no ZIP code to ship to"));
    }
    Ok(format!("EP-{order_id}-{shipment}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parcels_grow_with_their_units_and_ids_are_stable() {
        assert_eq!(parcel(2), Parcel { weight_grams: 600, size: Size::Small });
        assert_eq!(parcel(10).size, Size::Medium);
        assert_eq!(parcel(100).size, Size::Freight);
        assert_eq!(package_id("order-1", 1), package_id("order-1", 1));
        assert_ne!(tracking("order-1", 1, "94105"), tracking("order-1", 2, "94105"));
        assert!(tracking("order-1", 1, "").is_err());
    }
}
