"""The `shipper` world in Python: thin bindings over `rules`, which holds the logic and its tests."""

from componentize_py_types import Err
from wit_world import WitWorld as World
from wit_world.imports import types
from wit_world.imports.log import Level, log

import rules

BOXES = {
    "small": types.BoxSize.SMALL,
    "medium": types.BoxSize.MEDIUM,
    "large": types.BoxSize.LARGE,
    "freight": types.BoxSize.FREIGHT,
}


class WitWorld(World):
    def info(self) -> types.PluginInfo:
        return types.PluginInfo(name="{{name}}", version="0.1.0")

    def prepare_package(self, order: types.Order) -> types.Package:
        units = sum(item.quantity for item in order.items)
        weight_grams, size = rules.parcel(units)
        return types.Package(
            package_id=rules.package_id(order.order_id, order.shipment),
            weight_grams=weight_grams,
            box=BOXES[size],
            units=units,
        )

    def dispatch_carrier(self, order: types.Order, package: types.Package) -> types.Dispatch:
        try:
            tracking = rules.tracking(order.order_id, order.shipment, order.address.zip_code)
        except rules.Undeliverable as e:
            # Permanent: this shipment will never go; the host counts it as a failed dispatch. A busy carrier would
            # be `types.ActivityError_Retryable`, which the host tries again.
            raise Err(types.ActivityError_Permanent(types.Failure(code="undeliverable", message=str(e))))
        log(Level.INFO, f"{package.package_id} handed to {rules.CARRIER} as {tracking}")
        return types.Dispatch(carrier=rules.CARRIER, tracking=tracking, eta_days=rules.ETA_DAYS)
