// The payment rules, free of component bindings so they run under plain Node (`npm test`).
//
// A real gateway would be called here; this one only decides. Whatever it does, a charge must be idempotent by payment
// id: the host may call `charge` again for the same payment (a retry after a timeout), and the same id must never take
// the money twice. Deriving every id from the payment id gives that for free. Amounts are BigInt (WIT `u64`).

/** Why a payment was declined: a stable `code` and a human `message`. */
export class Decline extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export function transactionId(paymentId, amountCents) {
  if (!paymentId) throw new Decline("missing_payment_id", "declined: the payment id is empty");
  if (amountCents === 0n) throw new Decline("zero_amount", "declined: the amount is zero");
  return `txn-${paymentId}`;
}

export function refundId(paymentId) {
  if (!paymentId) throw new Decline("missing_payment_id", "refund refused: the payment id is empty");
  return `rfd-${paymentId}`;
}
