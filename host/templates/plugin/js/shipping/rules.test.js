import assert from "node:assert/strict";
import { test } from "node:test";
import { Undeliverable, packageId, parcel, tracking } from "../rules.js";

test("parcels grow with their units and ids are stable", () => {
  assert.deepEqual(parcel(2), { weightGrams: 600, box: "small" });
  assert.equal(parcel(10).box, "medium");
  assert.equal(parcel(100).box, "freight");
  assert.equal(packageId("order-1", 1), packageId("order-1", 1));
  assert.notEqual(tracking("order-1", 1, "94105"), tracking("order-1", 2, "94105"));
  assert.throws(() => tracking("order-1", 1, ""), Undeliverable);
});
