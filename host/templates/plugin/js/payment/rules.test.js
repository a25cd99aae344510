import assert from "node:assert/strict";
import { test } from "node:test";
import { Decline, refundId, transactionId } from "../rules.js";

test("the same payment always gets the same ids and bad ones are declined", () => {
  assert.equal(transactionId("pay-1", 4200n), transactionId("pay-1", 4200n));
  assert.notEqual(transactionId("pay-1", 4200n), transactionId("pay-2", 4200n));
  assert.throws(() => transactionId("pay-1", 0n), (e) => e instanceof Decline && e.code === "zero_amount");
  assert.equal(refundId("pay-1"), refundId("pay-1"));
});
