import assert from "node:assert/strict";
import { test } from "node:test";

import { AMOUNT_LIMIT_CENTS, Decline, charge, fnv1a, refundId } from "../rules.js";

test("the same payment id gives the same transaction", () => {
  assert.equal(charge("payment-456", 4200n), charge("payment-456", 4200n));
  assert.notEqual(charge("payment-456", 4200n), charge("payment-457", 4200n));
});

test("fnv1a is the standard 64-bit function (published test vectors)", () => {
  assert.equal(fnv1a(""), 0xcbf29ce484222325n);
  assert.equal(fnv1a("a"), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a("foobar"), 0x85944171f73967e8n);
});

test("amounts above the limit are declined for good", () => {
  assert.ok(charge("p", AMOUNT_LIMIT_CENTS));
  assert.throws(() => charge("p", AMOUNT_LIMIT_CENTS + 1n), (e) => e instanceof Decline && e.code === "amount_over_limit" && e.message.includes("$10000.01"));
});

test("refunds are idempotent", () => {
  assert.equal(refundId("p"), refundId("p"));
  assert.throws(() => refundId(""), Decline);
});
