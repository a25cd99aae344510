// The `validator` world in JavaScript: thin bindings over `rules.js`, which holds the logic and its tests.
// A thrown value becomes the `err` case of the export's `result`.
import { log } from "order:plugins/log@0.1.0";
import { Invalid, total } from "./rules.js";

export function info() {
  return { name: "{{name}}", version: "0.1.0" };
}

export function validate(order) {
  try {
    return { order, totalCents: total(order.items) };
  } catch (e) {
    if (!(e instanceof Invalid)) throw { tag: "retryable", val: { code: "internal", message: String(e) } };
    const message = e.problems.join("; ");
    log("info", `${order.orderId}: ${message}`);
    // Permanent: the same order will never pass; the host rejects it without retrying.
    throw { tag: "permanent", val: { code: "invalid_order", message } };
  }
}
