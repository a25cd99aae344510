import assert from "node:assert/strict";
import { test } from "node:test";
import { Invalid, total } from "../rules.js";

test("totals the lines and lists every problem", () => {
  const line = (sku, quantity, unitPriceCents) => ({ sku, quantity, unitPriceCents });
  assert.equal(total([line("A-1", 2, 1250n), line("B", 1, 99n)]), 2599n);
  assert.throws(() => total([line("A-1", 0, 0n)]), (e) => e instanceof Invalid && e.problems.length === 2);
  assert.throws(() => total([]), Invalid);
});
