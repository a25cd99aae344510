"""The payment rules, free of component bindings so they run under plain Python (`python3 -m unittest`).

A real gateway would be called here; this one only decides. Whatever it does, a charge must be idempotent by payment
id: the host may call `charge` again for the same payment (a retry after a timeout), and the same id must never take
the money twice. Deriving every id from the payment id gives that for free.
"""


class Decline(Exception):
    """Why a payment was declined: a stable `code` and a human `message`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def transaction_id(payment_id: str, amount_cents: int) -> str:
    if not payment_id:
        raise Decline("missing_payment_id", "declined: the payment id is empty")
    if amount_cents == 0:
        raise Decline("zero_amount", "declined: the amount is zero")
    return f"txn-{payment_id}"


def refund_id(payment_id: str) -> str:
    if not payment_id:
        raise Decline("missing_payment_id", "refund refused: the payment id is empty")
    return f"rfd-{payment_id}"
