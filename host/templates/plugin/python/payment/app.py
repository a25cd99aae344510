"""The `payment-processor` world in Python: thin bindings over `rules`, which holds the logic and its tests."""

from componentize_py_types import Err
from wit_world import WitWorld as World
from wit_world.imports import types
from wit_world.imports.log import Level, log

import rules


def permanent(decline: rules.Decline) -> Err:
    # Permanent: the same request will never pass; the host rejects the order (or gives up a refund) at once.
    # `types.ActivityError_Retryable` instead makes the host try the call again later.
    return Err(types.ActivityError_Permanent(types.Failure(code=decline.code, message=decline.message)))


class WitWorld(World):
    def info(self) -> types.PluginInfo:
        return types.PluginInfo(name="{{name}}", version="0.1.0")

    def charge(self, request: types.ChargeRequest) -> types.Receipt:
        try:
            transaction_id = rules.transaction_id(request.payment_id, request.amount_cents)
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
        return types.RefundReceipt(payment_id=request.payment_id, refund_id=refund_id, amount_cents=request.amount_cents)
