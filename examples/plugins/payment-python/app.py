"""The `payment-processor` world in Python: thin bindings over `rules`."""

from componentize_py_types import Err
from wit_world import WitWorld as World
from wit_world.imports import types
from wit_world.imports.log import Level, log

import rules


def permanent(decline: rules.Decline) -> Err:
    return Err(types.ActivityError_Permanent(types.Failure(code=decline.code, message=decline.message)))


class WitWorld(World):
    def info(self) -> types.PluginInfo:
        return types.PluginInfo(name="payment-python", version="0.1.0")

    def charge(self, request: types.ChargeRequest) -> types.Receipt:
        try:
            transaction_id = rules.charge(request.payment_id, request.amount_cents)
        except rules.Decline as decline:
            log(Level.INFO, f"{request.payment_id}: {decline.message}")
            raise permanent(decline)
        return types.Receipt(
            payment_id=request.payment_id, transaction_id=transaction_id, amount_cents=request.amount_cents
        )

    def refund(self, request: types.RefundRequest) -> types.RefundReceipt:
        try:
            refund_id = rules.refund_id(request.payment_id)
        except rules.Decline as decline:
            raise permanent(decline)
        return types.RefundReceipt(
            payment_id=request.payment_id, refund_id=refund_id, amount_cents=request.amount_cents
        )
