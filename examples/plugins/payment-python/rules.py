"""The simulated payment gateway, free of component bindings so it can be tested with plain Python.

The same contract as the Rust default (plugins/payment): deterministic ids derived from the payment id, so a retried
charge is the same charge; amounts above $10,000.00 are declined for good.
"""

AMOUNT_LIMIT_CENTS = 1_000_000


class Decline(Exception):
    """Why the gateway said no: a stable `code` and a human `message`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def fnv1a(data: bytes) -> int:
    """FNV-1a, 64 bits: the same function the Rust plugin uses, so both derive the same ids."""
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def dollars(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02}"


def charge(payment_id: str, amount_cents: int, limit_cents: int = AMOUNT_LIMIT_CENTS) -> str:
    """The transaction id of a charge, or a `Decline`."""
    if not payment_id:
        raise Decline("missing_payment_id", "declined: the payment id is empty")
    if amount_cents == 0:
        raise Decline("zero_amount", "declined: the amount is zero")
    if amount_cents > limit_cents:
        raise Decline(
            "amount_over_limit",
            f"declined: {dollars(amount_cents)} exceeds the limit of {dollars(limit_cents)}",
        )
    return f"txn-{fnv1a(payment_id.encode()):016x}"


def refund_id(payment_id: str) -> str:
    """The refund id of a payment (the same on every retry)."""
    if not payment_id:
        raise Decline("missing_payment_id", "refund refused: the payment id is empty")
    return f"rfd-{fnv1a(payment_id.encode()):016x}"
