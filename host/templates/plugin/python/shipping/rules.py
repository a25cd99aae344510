"""The shipping rules, free of component bindings so they run under plain Python (`python3 -m unittest`)."""

CARRIER = "Example Parcel"
ETA_DAYS = 3
U32_MAX = 2**32 - 1


class Undeliverable(Exception):
    """Why an address cannot be served."""


def parcel(units: int) -> tuple[int, str]:
    """A parcel's weight in grams (250 g a unit, 100 g the box) and its box size."""
    weight = min(units * 250 + 100, U32_MAX)
    if weight <= 1_000:
        return weight, "small"
    if weight <= 5_000:
        return weight, "medium"
    if weight <= 20_000:
        return weight, "large"
    return weight, "freight"


def package_id(order_id: str, shipment: int) -> str:
    """Stable for the same order and shipment, so a retried call names the same parcel."""
    return f"pkg-{order_id}-{shipment}"


def tracking(order_id: str, shipment: int, zip_code: str) -> str:
    if not zip_code:
        raise Undeliverable(f"{order_id}: no ZIP code to ship to")
    return f"EP-{order_id}-{shipment}"
