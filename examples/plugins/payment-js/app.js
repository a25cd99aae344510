// The `payment-processor` world in JavaScript: thin bindings over `rules.js`. A thrown value becomes the `err` case
// of a `result`, so a decline is thrown as the WIT `activity-error` variant.
import { log } from "order:plugins/log@0.1.0";
import { Decline, charge as decide, refundId } from "./rules.js";

const permanent = (decline) => ({ tag: "permanent", val: { code: decline.code, message: decline.message } });

function guarded(work) {
  try {
    return work();
  } catch (e) {
    if (e instanceof Decline) throw permanent(e);
    throw { tag: "retryable", val: { code: "internal", message: String(e) } };
  }
}

export function info() {
  return { name: "payment-js", version: "0.1.0" };
}

export function charge(request) {
  return guarded(() => {
    try {
      const transactionId = decide(request.paymentId, request.amountCents);
      return { paymentId: request.paymentId, transactionId, amountCents: request.amountCents };
    } catch (e) {
      if (e instanceof Decline) log("info", `${request.paymentId}: ${e.message}`);
      throw e;
    }
  });
}

export function refund(request) {
  return guarded(() => ({
    paymentId: request.paymentId,
    refundId: refundId(request.paymentId),
    amountCents: request.amountCents,
  }));
}
