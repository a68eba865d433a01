"""The one function that applies a PaymentIntent's state to its order. The return page, the status
poll, the webhook and the reconciler all call it: under the order's row lock, idempotent, moving
only along `TRANSITIONS` (storefront/orders/models.py), so no order of events can unpay an order."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from storefront.cart.models import Cart, CartLine
from storefront.db import Database, DbConnection
from storefront.orders.emails import queue_paid_confirmation
from storefront.orders.models import TRANSITIONS, Order, OrderStatus
from storefront.orders.service import release_stock, reserve_again

logger = logging.getLogger("storefront.payments")

order_t = Order.__table__
cart_t = Cart.__table__
cart_line_t = CartLine.__table__

_LOCK_ORDER = select(order_t).where(order_t.c.id == bindparam("order")).with_for_update()
_SET_STATUS = (
    update(order_t)
    .where(order_t.c.id == bindparam("order"))
    .values(status=bindparam("new_status"), synced_at=bindparam("now"), updated_at=bindparam("now"))
)
_TOUCH = update(order_t).where(order_t.c.id == bindparam("order")).values(synced_at=bindparam("now"))
_FLAG_REFUND = (
    update(order_t)
    .where(order_t.c.id == bindparam("order"))
    .values(needs_refund=True, refund_reason=bindparam("reason"), updated_at=bindparam("now"))
)
_EMPTY_CART = delete(cart_line_t).where(
    cart_line_t.c.cart_id.in_(select(cart_t.c.id).where(cart_t.c.token_hash == bindparam("cart")).scalar_subquery())
)


@dataclass(frozen=True, slots=True)
class Applied:
    status: OrderStatus
    changed: bool
    note: str = ""


def status_for(intent: Mapping[str, Any]) -> OrderStatus | None:
    """What a PaymentIntent's state means for its order (reference/stripe-twint.md §1.2); None: nothing yet."""
    status = intent["status"]
    if status == "succeeded":
        return OrderStatus.PAID
    if status == "canceled":
        return OrderStatus.CANCELLED
    if status == "requires_payment_method":
        return OrderStatus.PAYMENT_FAILED if intent.get("last_payment_error") else None
    if status in {"requires_action", "requires_confirmation", "processing"}:
        return OrderStatus.PENDING_PAYMENT
    return None


async def apply_payment_state(database: Database, order_id: int, intent: Mapping[str, Any]) -> Applied:
    async with database.write() as connection:
        return await _apply(connection, order_id, intent)


async def apply_in_transaction(connection: DbConnection, order_id: int, intent: Mapping[str, Any]) -> Applied:
    """`apply_payment_state` inside a transaction the caller holds (the webhook records its event id in it)."""
    return await _apply(connection, order_id, intent)


async def _apply(connection: DbConnection, order_id: int, intent: Mapping[str, Any]) -> Applied:
    now = dt.datetime.now(dt.UTC)
    order = (await connection.execute(_LOCK_ORDER, {"order": order_id})).one()
    current = OrderStatus(order.status)
    if intent["id"] != order.payment_intent_id:
        if intent["status"] == "succeeded":
            # A second payment for this order: keep the order as it is and flag the money for refund.
            await connection.execute(
                _FLAG_REFUND, {"order": order_id, "now": now, "reason": f"second payment {intent['id']}"}
            )
            logger.warning("order %s: a second succeeded payment %s, flagged for refund", order.number, intent["id"])
            return Applied(current, changed=True, note="second payment flagged for refund")
        return Applied(current, changed=False, note="another payment of this order")
    if intent["amount"] != order.total or intent["currency"] != order.currency:
        logger.error(
            "order %s: payment %s is for %s %s, the order for %s %s; not applied",
            order.number,
            intent["id"],
            intent["amount"],
            intent["currency"],
            order.total,
            order.currency,
        )
        return Applied(current, changed=False, note="amount or currency mismatch")
    target = status_for(intent)
    if target is None or target == current:
        await connection.execute(_TOUCH, {"order": order_id, "now": now})
        return Applied(current, changed=False)
    if target not in TRANSITIONS[current]:
        logger.info("order %s: %s after %s ignored (state only moves forward)", order.number, target, current)
        await connection.execute(_TOUCH, {"order": order_id, "now": now})
        return Applied(current, changed=False, note=f"{current} does not go to {target}")
    if (
        current == OrderStatus.CANCELLED
        and target == OrderStatus.PAID
        and not await reserve_again(connection, order_id)
    ):
        await connection.execute(
            _FLAG_REFUND, {"order": order_id, "now": now, "reason": "paid after cancellation, stock gone"}
        )
        logger.warning("order %s: paid after its cancellation but sold out meanwhile; flagged for refund", order.number)
        return Applied(current, changed=True, note="late payment flagged for refund")
    if target == OrderStatus.CANCELLED:
        await release_stock(connection, order_id)
    if target == OrderStatus.PAID:
        if order.cart_token_hash:
            await connection.execute(_EMPTY_CART, {"cart": order.cart_token_hash})
        await queue_paid_confirmation(connection, order)
    await connection.execute(_SET_STATUS, {"order": order_id, "new_status": target.value, "now": now})
    return Applied(target, changed=True)
