// The validation rules, free of component bindings so they run under plain Node (`npm test`).
// WIT `u64` values are BigInt, `u32` values are Number.

const U64_MAX = 2n ** 64n - 1n;

/** Every problem found in an order, not just the first. */
export class Invalid extends Error {
  constructor(problems) {
    super(problems.join("; "));
    this.problems = problems;
  }
}

/** The order's total in cents (BigInt) from its items ({ sku, quantity, unitPriceCents }), or throws `Invalid`. */
export function total(items) {
  const problems = [];
  if (items.length === 0) problems.push("the order has no items");
  let cents = 0n;
  items.forEach((item, i) => {
    if (item.quantity === 0) problems.push(`item ${i + 1} (${item.sku}): the quantity must be at least 1`);
    if (item.unitPriceCents === 0n) problems.push(`item ${i + 1} (${item.sku}): the unit price must be greater than zero`);
    cents += BigInt(item.quantity) * item.unitPriceCents;
  });
  if (cents > U64_MAX) problems.push("the total does not fit in 64 bits of cents");
  if (problems.length > 0) throw new Invalid(problems);
  return cents;
}
