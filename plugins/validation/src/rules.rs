//! The validation rules, free of any Wasm binding so they can be unit-tested natively and benchmarked against the
//! component (host/benches/plugins.rs includes this file).

/// One order line, borrowed from whatever representation the caller holds.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub sku: &'a str,
    pub quantity: u32,
    pub unit_price_cents: u64,
}

/// A US postal address, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Address<'a> {
    pub street: &'a str,
    pub city: &'a str,
    pub state: &'a str,
    pub zip_code: &'a str,
}

/// What a valid order yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// Sum of quantity × unit price, in cents.
    pub total_cents: u64,
    /// The state code, trimmed and upper-cased.
    pub state: String,
}

/// The most lines one order may hold.
pub const MAX_ITEMS: usize = 100;
/// The largest quantity of one line.
pub const MAX_QUANTITY: u32 = 1000;
/// The longest SKU.
pub const MAX_SKU_LEN: usize = 32;

/// USPS codes of the states, the District of Columbia, the territories and the armed-forces regions.
const STATE_CODES: [&str; 62] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME",
    "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "PR", "GU", "VI", "AS", "MP", "UM",
    "AA", "AE", "AP", "FM", "MH",
];

/// Checks every rule and reports every problem found, not just the first.
pub fn validate(items: &[Item<'_>], address: &Address<'_>) -> Result<Validated, Vec<String>> {
    let mut problems = Vec::new();

    if items.is_empty() {
        problems.push("the order has no items; at least one is required".to_owned());
    }
    if items.len() > MAX_ITEMS {
        problems.push(format!("the order has {} items; at most {MAX_ITEMS} are allowed", items.len()));
    }

    let mut total: Option<u64> = Some(0);
    for (i, item) in items.iter().enumerate() {
        if !is_valid_sku(item.sku) {
            problems.push(format!(
                "items[{i}].sku {:?} must be 1–{MAX_SKU_LEN} characters from A–Z, 0–9 and '-'",
                item.sku
            ));
        }
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            problems.push(format!("items[{i}].quantity {} must be between 1 and {MAX_QUANTITY}", item.quantity));
        }
        if item.unit_price_cents == 0 {
            problems.push(format!("items[{i}].unit_price_cents must be greater than 0"));
        }
        total = total.and_then(|t| t.checked_add(u64::from(item.quantity).checked_mul(item.unit_price_cents)?));
    }
    if total.is_none() {
        problems.push("the order total does not fit in 64 bits of cents".to_owned());
    }

    for (field, value) in [("street", address.street), ("city", address.city)] {
        if value.trim().is_empty() {
            problems.push(format!("address.{field} is missing"));
        }
    }
    let state = address.state.trim().to_ascii_uppercase();
    if state.is_empty() {
        problems.push("address.state is missing".to_owned());
    } else if !STATE_CODES.contains(&state.as_str()) {
        problems.push(format!("address.state {:?} is not a two-letter US state code", address.state));
    }
    let zip = address.zip_code.trim();
    if zip.is_empty() {
        problems.push("address.zip_code is missing".to_owned());
    } else if !is_valid_zip(zip) {
        problems.push(format!("address.zip_code {:?} must be 5 digits or ZIP+4 (12345-6789)", address.zip_code));
    }

    match total {
        Some(total_cents) if problems.is_empty() => Ok(Validated { total_cents, state }),
        _ => Err(problems),
    }
}

/// Joins problems into one sentence for the permanent error's message.
pub fn describe(problems: &[String]) -> String {
    let noun = if problems.len() == 1 { "problem" } else { "problems" };
    format!("order is invalid ({} {noun}): {}", problems.len(), problems.join("; "))
}

fn is_valid_sku(sku: &str) -> bool {
    (1..=MAX_SKU_LEN).contains(&sku.len())
        && sku.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

fn is_valid_zip(zip: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match zip.split_once('-') {
        None => digits(zip, 5),
        Some((five, four)) => digits(five, 5) && digits(four, 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Address<'static> =
        Address { street: "123 Main St", city: "Springfield", state: "IL", zip_code: "62701" };

    fn item(sku: &str, quantity: u32, unit_price_cents: u64) -> Item<'_> {
        Item { sku, quantity, unit_price_cents }
    }

    #[test]
    fn a_valid_order_yields_its_total() {
        let items = [item("SKU-001", 2, 1500), item("SKU-002", 1, 1200)];
        let v = validate(&items, &HOME).unwrap();
        assert_eq!(v.total_cents, 4200);
        assert_eq!(v.state, "IL");
    }

    #[test]
    fn state_is_normalised_and_zip_plus_four_accepted() {
        let address = Address { state: " ca ", zip_code: "94105-1234", ..HOME };
        let v = validate(&[item("A", 1, 1)], &address).unwrap();
        assert_eq!(v.state, "CA");
    }

    #[test]
    fn an_empty_order_is_refused() {
        let problems = validate(&[], &HOME).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("no items"));
    }

    #[test]
    fn every_problem_is_reported() {
        let items = [item("bad sku", 0, 0), item("", 1001, 5)];
        let address = Address { street: " ", city: "", state: "ZZ", zip_code: "1234" };
        let problems = validate(&items, &address).unwrap_err();
        let text = problems.join("\n");
        for expected in [
            "items[0].sku",
            "items[0].quantity 0",
            "items[0].unit_price_cents",
            "items[1].sku \"\"",
            "items[1].quantity 1001",
            "address.street is missing",
            "address.city is missing",
            "address.state \"ZZ\"",
            "address.zip_code \"1234\"",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert_eq!(problems.len(), 9, "{text}");
    }

    #[test]
    fn sku_limits() {
        let long = "A".repeat(MAX_SKU_LEN);
        let too_long = "A".repeat(MAX_SKU_LEN + 1);
        assert!(validate(&[item(&long, 1, 1)], &HOME).is_ok());
        assert!(validate(&[item(&too_long, 1, 1)], &HOME).is_err());
        assert!(validate(&[item("sku-1", 1, 1)], &HOME).is_err(), "lower case is refused");
        assert!(validate(&[item("SKU_1", 1, 1)], &HOME).is_err(), "underscore is refused");
    }

    #[test]
    fn quantity_bounds() {
        assert!(validate(&[item("A", 1, 1)], &HOME).is_ok());
        assert!(validate(&[item("A", MAX_QUANTITY, 1)], &HOME).is_ok());
        assert!(validate(&[item("A", MAX_QUANTITY + 1, 1)], &HOME).is_err());
    }

    #[test]
    fn zip_shapes() {
        for good in ["00501", "12345-6789"] {
            assert!(is_valid_zip(good), "{good}");
        }
        for bad in ["1234", "123456", "12345-678", "12345-67890", "ABCDE", "12345 6789", "-"] {
            assert!(!is_valid_zip(bad), "{bad}");
        }
    }

    #[test]
    fn a_total_that_overflows_is_refused() {
        let problems = validate(&[item("A", 1000, u64::MAX / 10)], &HOME).unwrap_err();
        assert!(problems.iter().any(|p| p.contains("64 bits")), "{problems:?}");
    }

    #[test]
    fn too_many_items_are_refused() {
        let items = vec![item("A", 1, 1); MAX_ITEMS + 1];
        assert!(validate(&items, &HOME).unwrap_err()[0].contains("at most"));
    }

    #[test]
    fn describe_counts_problems() {
        assert_eq!(describe(&["a".into()]), "order is invalid (1 problem): a");
        assert_eq!(describe(&["a".into(), "b".into()]), "order is invalid (2 problems): a; b");
    }
}
