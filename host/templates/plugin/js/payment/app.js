// The `payment-processor` world in JavaScript: thin bindings over `rules.js`, which holds the logic and its tests.
// A thrown value becomes the `err` case of the export's `result`.
import { log } from "order:plugins/log@0.1.0";
import { Decline, refundId, transactionId } from "./rules.js";

// Permanent: the same request will never pass; the host rejects the order (or gives up a refund) at once.
// `{ tag: "retryable", … }` instead makes the host try the call again later.
function failure(e) {
  if (e instanceof Decline) return { tag: "permanent", val: { code: e.code, message: e.message } };
  return { tag: "retryable", val: { code: "internal", message: String(e) } };
}

export function info() {
  return { name: "{{name}}", version: "0.1.0" };
}

export function charge(request) {
  try {
    const id = transactionId(request.paymentId, request.amountCents);
    return { paymentId: request.paymentId, transactionId: id, amountCents: request.amountCents };
  } catch (e) {
    log("info", `${request.paymentId}: ${e.message}`);
    throw failure(e);
  }
}

export function refund(request) {
  try {
    return { paymentId: request.paymentId, refundId: refundId(request.paymentId), amountCents: request.amountCents };
  } catch (e) {
    throw failure(e);
  }
}
