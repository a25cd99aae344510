"""The validation rules, free of component bindings so they run under plain Python (`python3 -m unittest`)."""

from dataclasses import dataclass

U64_MAX = 2**64 - 1


@dataclass
class Line:
    sku: str
    quantity: int
    unit_price_cents: int


class Invalid(Exception):
    """Every problem found in an order, not just the first."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def total(lines: list[Line]) -> int:
    """The order's total in cents, or raises `Invalid`."""
    problems = []
    if not lines:
        problems.append("the order has no items")
    for n, line in enumerate(lines, start=1):
        if line.quantity == 0:
            problems.append(f"item {n} ({line.sku}): the quantity must be at least 1")
        if line.unit_price_cents == 0:
            problems.append(f"item {n} ({line.sku}): the unit price must be greater than zero")
    cents = sum(line.quantity * line.unit_price_cents for line in lines)
    if cents > U64_MAX:
        problems.append("the total does not fit in 64 bits of cents")
    if problems:
        raise Invalid(problems)
    return cents
