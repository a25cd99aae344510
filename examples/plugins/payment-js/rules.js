// The simulated payment gateway, free of component bindings so it can be tested with plain Node (`npm test`).
//
// The same contract as the Rust default (plugins/payment): deterministic ids derived from the payment id, so a retried
// charge is the same charge; amounts above $10,000.00 are declined for good. Amounts are BigInt (WIT `u64`).

export const AMOUNT_LIMIT_CENTS = 1_000_000n;

/** Why the gateway said no: a stable `code` and a human `message`. */
export class Decline extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** FNV-1a, 64 bits, over the UTF-8 bytes of `text`: the function the Rust plugin uses. */
export function fnv1a(text) {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

const hex16 = (n) => n.toString(16).padStart(16, "0");
const dollars = (cents) => `$${cents / 100n}.${(cents % 100n).toString().padStart(2, "0")}`;

/** The transaction id of a charge, or throws a `Decline`. */
export function charge(paymentId, amountCents, limitCents = AMOUNT_LIMIT_CENTS) {
  if (!paymentId) throw new Decline("missing_payment_id", "declined: the payment id is empty");
  if (amountCents === 0n) throw new Decline("zero_amount", "declined: the amount is zero");
  if (amountCents > limitCents) {
    throw new Decline(
      "amount_over_limit",
      `declined: ${dollars(amountCents)} exceeds the limit of ${dollars(limitCents)}`,
    );
  }
  return `txn-${hex16(fnv1a(paymentId))}`;
}

/** The refund id of a payment (the same on every retry), or throws a `Decline`. */
export function refundId(paymentId) {
  if (!paymentId) throw new Decline("missing_payment_id", "refund refused: the payment id is empty");
  return `rfd-${hex16(fnv1a(paymentId))}`;
}
