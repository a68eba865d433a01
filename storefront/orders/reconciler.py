"""Expiring unpaid orders: those still unpaid after the TWINT window are settled with the payment
provider. Their payment is read again (a lost webhook or a crash is caught up), and if it still
waits for the customer, it is called off (`abandoned`) and the stock released. A success that
arrives meanwhile is honoured through the same rules (`apply_payment_state`). Several workers may
run it at once: each payment is claimed by one of them per interval."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, or_, select

from storefront import twint
from storefront.db import Database
from storefront.orders.lifecycle import apply_payment_state, claim_sync, payment_request, record_payment
from storefront.orders.models import UNPAID
from storefront.orders.provider import PaymentMovedOn, PaymentProvider, PaymentUnavailable
from storefront.orders.timeline import Source
from storefront.orders.views import OrderView, find_order, order_t

logger = logging.getLogger("storefront.orders")

TWINT_WINDOW = dt.timedelta(minutes=twint.WINDOW_MINUTES)
INTERVAL_S = 60.0  # how often each worker looks for stale orders

_UNPAID = order_t.c.status.in_([status.value for status in UNPAID])
# Stock is held briefly for an order whose customer has not pressed "Pay" yet, and for TWINT's
# window from the moment they did.
_STALE_ORDERS = (
    select(order_t.c.id)
    .where(
        _UNPAID,
        or_(
            and_(order_t.c.handed_over_at.is_(None), order_t.c.created_at < bindparam("not_paying_before")),
            order_t.c.handed_over_at < bindparam("before"),
        ),
    )
    .order_by(order_t.c.id)
)
_UNPAID_ORDER = select(order_t.c.id).where(_UNPAID, order_t.c.number == bindparam("number"))


@dataclass
class Reconciled:
    checked: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # order number → what happened


async def reconcile(
    database: Database,
    provider: PaymentProvider,
    window: dt.timedelta = TWINT_WINDOW,
    order_number: str | None = None,
    pay_within: dt.timedelta | None = None,
) -> Reconciled:
    """Settle the unpaid orders whose customer went to TWINT longer than `window` ago, or never
    pressed "Pay" within `pay_within` (default: `window`) of placing them; with `order_number`,
    that one order now, whatever its age (a customer who says they closed TWINT, or QA replaying
    an abandoned payment)."""
    report = Reconciled()
    async with database.read() as connection:
        if order_number is not None:
            found = await connection.execute(_UNPAID_ORDER, {"number": order_number})
        else:
            now = dt.datetime.now(dt.UTC)
            found = await connection.execute(
                _STALE_ORDERS, {"before": now - window, "not_paying_before": now - (pay_within or window)}
            )
        stale = [row.id for row in found]
    # A named order is settled even if a status poll asked the provider a moment ago.
    claim_interval_s = 0.0 if order_number is not None else INTERVAL_S / 2
    for order_id in stale:
        order = await find_order(database, order_id=order_id)
        if order is None:
            continue
        if order.payment is not None and not await claim_sync(database, order.payment.id, claim_interval_s):
            continue  # another worker has it
        report.checked += 1
        try:
            report.outcomes[order.number] = await _settle(database, provider, order, forced=order_number is not None)
        except PaymentUnavailable:
            report.outcomes[order.number] = "payment provider unavailable, next round"
    return report


async def _settle(database: Database, provider: PaymentProvider, order: OrderView, *, forced: bool = False) -> str:
    if order.payment is None:
        # The worker stopped between creating the payment and recording it (or before creating it):
        # the same idempotency key gives back the same payment, if there is one.
        intent = await provider.create_intent(payment_request(order))
        await record_payment(database, order.id, intent)
    else:
        intent = await provider.retrieve_intent(order.payment.intent_id)
    if not intent.cancellable:
        applied = await apply_payment_state(database, intent, Source.RECONCILER)
        return f"caught up: {applied.status}"
    if intent.handed_over and order.handed_over_at is None and not forced:
        # The customer went to TWINT, and the shop had not heard (Stripe.js tells Stripe, not the
        # shop, and the webhook was late or lost): TWINT's window starts now.
        await apply_payment_state(database, intent, Source.RECONCILER)
        return "in TWINT: waits for its window"
    try:
        intent = await provider.abandon_intent(intent.id)
    except PaymentMovedOn:  # it moved on meanwhile, e.g. paid
        intent = await provider.retrieve_intent(intent.id)
    applied = await apply_payment_state(database, intent, Source.RECONCILER)
    return f"{'cancelled' if intent.status == 'canceled' else 'caught up'}: {applied.status}"
