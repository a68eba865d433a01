"""The reconciler: orders still unpaid after the TWINT window are settled with Stripe. Their
PaymentIntent is read again (a lost webhook or a crash is caught up), and if it is still waiting
for the customer, it is cancelled (`abandoned`) and the stock released. A success that arrives
while cancelling is honoured through the same rules (apply_payment_state). Several workers may
run it at once: each order is claimed by one of them per interval."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import stripe
from sqlalchemy import bindparam, select

from storefront.background import Periodic
from storefront.orders.models import OrderStatus
from storefront.orders.service import OrderView, claim_sync, find_order, order_t, record_payment_intent
from storefront.payments.gateway import OrderForPayment, PaymentUnavailable
from storefront.payments.service import apply_payment_state
from storefront.web import Shop

logger = logging.getLogger("storefront.payments")

TWINT_WINDOW = dt.timedelta(minutes=15)  # TWINT's payment page times out after 15 minutes
INTERVAL_S = 60.0

_STALE_ORDERS = (
    select(order_t.c.id)
    .where(
        order_t.c.status.in_([OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAYMENT_FAILED.value]),
        order_t.c.created_at < bindparam("before"),
    )
    .order_by(order_t.c.id)
)


@dataclass
class Reconciled:
    checked: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # order number → what happened


_UNPAID_ORDER = select(order_t.c.id).where(
    order_t.c.number == bindparam("number"),
    order_t.c.status.in_([OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAYMENT_FAILED.value]),
)


async def reconcile(shop: Shop, window: dt.timedelta = TWINT_WINDOW, order_number: str | None = None) -> Reconciled:
    """Settle the unpaid orders older than `window`; with `order_number`, that one order now,
    whatever its age (a customer who says they closed TWINT, or QA replaying an abandoned payment)."""
    report = Reconciled()
    async with shop.database.read() as connection:
        if order_number is not None:
            found = await connection.execute(_UNPAID_ORDER, {"number": order_number})
        else:
            found = await connection.execute(_STALE_ORDERS, {"before": dt.datetime.now(dt.UTC) - window})
        stale = [row.id for row in found]
    # A named order is settled even if a status poll asked Stripe a moment ago.
    claim_interval_s = 0.0 if order_number is not None else INTERVAL_S / 2
    for order_id in stale:
        if not await claim_sync(shop.database, order_id, claim_interval_s):
            continue  # another worker has it
        report.checked += 1
        order = await find_order(shop.database, order_id=order_id)
        if order is None:
            continue
        try:
            report.outcomes[order.number] = await _settle(shop, order)
        except PaymentUnavailable:
            report.outcomes[order.number] = "Stripe unavailable, next round"
    return report


async def _settle(shop: Shop, order: OrderView) -> str:
    gateway = shop.gateway
    if not order.payment_intent_id:
        # The worker stopped between creating the intent and recording it (or before creating it):
        # the same idempotency key gives back the same intent, if there is one.
        intent = await gateway.create_intent(
            OrderForPayment(order.id, order.number, order.public_token, order.total, order.email, order.payment_attempt)
        )
        await record_payment_intent(shop.database, order.id, intent.id, intent.client_secret)
    else:
        intent = await gateway.retrieve_intent(order.payment_intent_id)
    if intent.status in {"succeeded", "canceled", "processing"}:
        applied = await apply_payment_state(shop.database, order.id, intent.to_dict())
        return f"caught up: {applied.status}"
    try:
        intent = await gateway.cancel_intent(intent.id, "abandoned")
    except PaymentUnavailable as failure:
        if isinstance(failure.__cause__, stripe.InvalidRequestError):  # it moved on meanwhile, e.g. paid
            intent = await gateway.retrieve_intent(intent.id)
        else:
            raise
    applied = await apply_payment_state(shop.database, order.id, intent.to_dict())
    return f"{'cancelled' if intent.status == 'canceled' else 'caught up'}: {applied.status}"


def reconciler(shop: Shop) -> Periodic:
    """Every INTERVAL_S in each worker, the first round a while after start-up."""

    async def round_() -> None:
        report = await reconcile(shop, dt.timedelta(minutes=shop.settings.twint_window_minutes))
        if report.outcomes:
            logger.info("reconciler: %s", report.outcomes)

    return Periodic("reconciler", round_, INTERVAL_S, first_delay_s=INTERVAL_S)
