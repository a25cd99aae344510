//! Packing and carrier rules, free of Wasm bindings so they can be tested natively.

/// Grams of packaging added to every parcel.
pub const PACKAGING_GRAMS: u32 = 150;

/// The carton of a parcel, by total weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carton {
    /// Up to 1 kg.
    Small,
    /// Up to 5 kg.
    Medium,
    /// Up to 20 kg.
    Large,
    /// Over 20 kg.
    Freight,
}

/// A prepared parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    pub package_id: String,
    pub weight_grams: u32,
    pub units: u32,
    pub boxed: Carton,
}

/// A parcel handed to a carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub carrier: &'static str,
    pub tracking: String,
    pub eta_days: u32,
}

/// Why a parcel cannot go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No carrier serves this ZIP code.
    Undeliverable(String),
    /// The order has nothing to pack.
    Empty,
}

/// The simulated catalogue weight of one unit of a SKU: 200–1199 g, stable per SKU.
pub fn unit_weight_grams(sku: &str) -> u32 {
    200 + (fnv1a(sku.as_bytes()) % 1000) as u32
}

/// Packs the items `(sku, quantity)` of an order's `shipment`-th delivery.
pub fn prepare<'a>(
    order_id: &str,
    shipment: u32,
    items: impl IntoIterator<Item = (&'a str, u32)>,
) -> Result<Parcel, Refusal> {
    let (mut grams, mut units) = (u64::from(PACKAGING_GRAMS), 0u64);
    for (sku, quantity) in items {
        grams += u64::from(unit_weight_grams(sku)) * u64::from(quantity);
        units += u64::from(quantity);
    }
    if units == 0 {
        return Err(Refusal::Empty);
    }
    let weight_grams = u32::try_from(grams).unwrap_or(u32::MAX);
    let boxed = match weight_grams {
        0..=1_000 => Carton::Small,
        1_001..=5_000 => Carton::Medium,
        5_001..=20_000 => Carton::Large,
        _ => Carton::Freight,
    };
    Ok(Parcel {
        package_id: format!("pkg-{order_id}-{shipment}"),
        weight_grams,
        units: u32::try_from(units).unwrap_or(u32::MAX),
        boxed,
    })
}

/// Picks a carrier by region (the ZIP code's first digit) and derives the tracking number from the order id and the
/// shipment attempt, so that retrying the same dispatch yields the same tracking number.
pub fn dispatch(order_id: &str, shipment: u32, zip_code: &str, boxed: Carton) -> Result<Handover, Refusal> {
    let zip = zip_code.trim();
    if zip.starts_with("000") || !zip.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(Refusal::Undeliverable(zip.to_owned()));
    }
    let region = zip.as_bytes()[0] - b'0';
    let (carrier, eta_days) = match (boxed, region) {
        (Carton::Freight, _) => ("FreightLine", 7),
        (_, 0..=3) => ("USPS", 2 + u32::from(region)),
        (_, 4..=6) => ("UPS", 3),
        _ => ("FedEx", 2 + u32::from(9 - region)),
    };
    let key = format!("{order_id}#{shipment}");
    let tracking = format!("{}{:012}", carrier_prefix(carrier), fnv1a(key.as_bytes()) % 1_000_000_000_000);
    Ok(Handover { carrier, tracking, eta_days })
}

fn carrier_prefix(carrier: &str) -> &'static str {
    match carrier {
        "USPS" => "9400",
        "UPS" => "1Z",
        "FedEx" => "FX",
        _ => "FL",
    }
}

/// FNV-1a, 64 bits: tiny, stable across builds and platforms.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_and_box_follow_the_items() {
        let light = prepare("o-1", 1, [("SKU-001", 1)]).unwrap();
        assert_eq!(light.weight_grams, PACKAGING_GRAMS + unit_weight_grams("SKU-001"));
        assert_eq!(light.units, 1);
        assert_eq!(light.boxed, Carton::Small);
        assert_eq!(light.package_id, "pkg-o-1-1");

        let heavy = prepare("o-1", 2, [("SKU-001", 100)]).unwrap();
        assert_eq!(heavy.boxed, Carton::Freight);
        assert_eq!(heavy.package_id, "pkg-o-1-2");
    }

    #[test]
    fn box_thresholds() {
        let sized = |units: u32| prepare("o", 1, [("X", units)]).unwrap();
        let w = unit_weight_grams("X");
        let small_max = (1_000 - PACKAGING_GRAMS) / w;
        assert_eq!(sized(small_max).boxed, Carton::Small);
        assert_eq!(sized(small_max + 1).boxed, Carton::Medium);
    }

    #[test]
    fn an_empty_order_cannot_be_packed() {
        assert_eq!(prepare("o", 1, std::iter::empty()), Err(Refusal::Empty));
    }

    #[test]
    fn carrier_by_region() {
        assert_eq!(dispatch("o", 1, "10001", Carton::Small).unwrap().carrier, "USPS");
        assert_eq!(dispatch("o", 1, "60601", Carton::Small).unwrap().carrier, "UPS");
        assert_eq!(dispatch("o", 1, "94105-1234", Carton::Medium).unwrap().carrier, "FedEx");
        assert_eq!(dispatch("o", 1, "94105", Carton::Freight).unwrap().carrier, "FreightLine");
    }

    #[test]
    fn tracking_is_stable_per_shipment_and_differs_between_shipments() {
        let a = dispatch("order-123", 1, "62701", Carton::Small).unwrap();
        let b = dispatch("order-123", 1, "62701", Carton::Small).unwrap();
        let c = dispatch("order-123", 2, "62701", Carton::Small).unwrap();
        assert_eq!(a.tracking, b.tracking);
        assert_ne!(a.tracking, c.tracking);
        assert!(a.tracking.starts_with("1Z"), "{}", a.tracking);
    }

    #[test]
    fn unserved_zip_is_undeliverable() {
        assert_eq!(dispatch("o", 1, "00012", Carton::Small), Err(Refusal::Undeliverable("00012".into())));
    }
}
