//! The validation rules, free of component bindings so `cargo test` runs them natively.

/// One line of an order, as the rules see it.
pub struct Line<'a> {
    pub sku: &'a str,
    pub quantity: u32,
    pub unit_price_cents: u64,
}

/// The order's total in cents, or every problem found (not just the first).
pub fn total(lines: &[Line<'_>]) -> Result<u64, Vec<String>> {
    let mut problems = Vec::new();
    if lines.is_empty() {
        problems.push("the order has no items".to_owned());
    }
    let mut total = Some(0u64);
    for (n, line) in lines.iter().enumerate() {
        if line.quantity == 0 {
            problems.push(format!("item {} ({}): the quantity must be at least 1", n + 1, line.sku));
        }
        if line.unit_price_cents == 0 {
            problems.push(format!("item {} ({}): the unit price must be greater than zero", n + 1, line.sku));
        }
        total = total.and_then(|sum| u64::from(line.quantity).checked_mul(line.unit_price_cents)?.checked_add(sum));
    }
    match total {
        Some(total) if problems.is_empty() => Ok(total),
        Some(_) => Err(problems),
        None => {
            problems.push("the total does not fit in 64 bits of cents".to_owned());
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_the_lines_and_lists_every_problem() {
        let good = [
            Line { sku: "A-1", quantity: 2, unit_price_cents: 1250 },
            Line { sku: "B", quantity: 1, unit_price_cents: 99 },
        ];
        assert_eq!(total(&good), Ok(2599));

        let bad = [Line { sku: "A-1", quantity: 0, unit_price_cents: 0 }];
        let problems = total(&bad).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(total(&[]).is_err());
        assert!(total(&[Line { sku: "X", quantity: 1000, unit_price_cents: u64::MAX }]).is_err());
    }
}
