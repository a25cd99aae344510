// The `shipper` world in JavaScript: thin bindings over `rules.js`, which holds the logic and its tests.
// A thrown value becomes the `err` case of the export's `result`; enums are their WIT names as strings.
import { log } from "order:plugins/log@0.1.0";
import { CARRIER, ETA_DAYS, Undeliverable, packageId, parcel, tracking } from "./rules.js";

export function info() {
  return { name: "{{name}}", version: "0.1.0" };
}

export function preparePackage(order) {
  const units = order.items.reduce((sum, item) => sum + item.quantity, 0);
  const { weightGrams, box } = parcel(units);
  return { packageId: packageId(order.orderId, order.shipment), weightGrams, box, units };
}

export function dispatchCarrier(order, pkg) {
  try {
    const number = tracking(order.orderId, order.shipment, order.address.zipCode);
    log("info", `${pkg.packageId} handed to ${CARRIER} as ${number}`);
    return { carrier: CARRIER, tracking: number, etaDays: ETA_DAYS };
  } catch (e) {
    // Permanent: this shipment will never go; the host counts it as a failed dispatch. A busy carrier would be
    // `{ tag: "retryable", … }`, which the host tries again.
    if (e instanceof Undeliverable) throw { tag: "permanent", val: { code: "undeliverable", message: e.message } };
    throw { tag: "retryable", val: { code: "internal", message: String(e) } };
  }
}
