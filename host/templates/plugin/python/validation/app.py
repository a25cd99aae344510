"""The `validator` world in Python: thin bindings over `rules`, which holds the logic and its tests."""

from componentize_py_types import Err
from wit_world import WitWorld as World
from wit_world.imports import types
from wit_world.imports.log import Level, log

import rules


class WitWorld(World):
    def info(self) -> types.PluginInfo:
        return types.PluginInfo(name="{{name}}", version="0.1.0")

    def validate(self, order: types.Order) -> types.ValidatedOrder:
        lines = [rules.Line(item.sku, item.quantity, item.unit_price_cents) for item in order.items]
        try:
            total_cents = rules.total(lines)
        except rules.Invalid as invalid:
            message = "; ".join(invalid.problems)
            log(Level.INFO, f"{order.order_id}: {message}")
            # Permanent: the same order will never pass; the host rejects it without retrying.
            raise Err(types.ActivityError_Permanent(types.Failure(code="invalid_order", message=message)))
        return types.ValidatedOrder(order=order, total_cents=total_cents)
