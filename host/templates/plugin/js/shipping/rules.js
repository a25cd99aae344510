// The shipping rules, free of component bindings so they run under plain Node (`npm test`).

export const CARRIER = "Example Parcel";
export const ETA_DAYS = 3;
const U32_MAX = 2 ** 32 - 1;

/** Why an address cannot be served. */
export class Undeliverable extends Error {}

/** A parcel's weight in grams (250 g a unit, 100 g the box) and its box size. */
export function parcel(units) {
  const weightGrams = Math.min(units * 250 + 100, U32_MAX);
  const box = weightGrams <= 1000 ? "small" : weightGrams <= 5000 ? "medium" : weightGrams <= 20000 ? "large" : "freight";
  return { weightGrams, box };
}

/** Stable for the same order and shipment, so a retried call names the same parcel. */
export function packageId(orderId, shipment) {
  return `pkg-${orderId}-${shipment}`;
}

export function tracking(orderId, shipment, zipCode) {
  if (!zipCode) throw new Undeliverable(`${orderId}: no ZIP code to ship to`);
  return `EP-${orderId}-${shipment}`;
}
