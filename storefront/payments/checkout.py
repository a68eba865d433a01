"""Starting and following a payment for an order, on the shop's side."""

from __future__ import annotations

import logging

from storefront.orders.service import OrderView, claim_sync, find_order, record_payment_intent
from storefront.payments.gateway import OrderForPayment, PaymentUnavailable
from storefront.payments.service import apply_payment_state
from storefront.web import Shop

logger = logging.getLogger("storefront.payments")

SYNC_INTERVAL_S = 5.0  # a pending order asks Stripe at most this often, whatever the number of tabs


async def start_payment(shop: Shop, order_id: int) -> bool:
    """Create the order's PaymentIntent (the same one on every retry, by its idempotency key)."""
    order = await find_order(shop.database, order_id=order_id)
    if order is None or order.payment_intent_id:
        return order is not None
    try:
        intent = await shop.gateway.create_intent(
            OrderForPayment(order.id, order.number, order.public_token, order.total, order.email, order.payment_attempt)
        )
    except PaymentUnavailable:
        return False
    await record_payment_intent(shop.database, order.id, intent.id, intent.client_secret)
    return True


async def sync_with_stripe(shop: Shop, order: OrderView) -> OrderView:
    """Ask Stripe how a pending payment stands, at most once per order per interval, and apply it."""
    if order.final or not order.payment_intent_id or not await claim_sync(shop.database, order.id, SYNC_INTERVAL_S):
        return order
    try:
        intent = await shop.gateway.retrieve_intent(order.payment_intent_id)
    except PaymentUnavailable:
        return order  # the next poll asks again
    await apply_payment_state(shop.database, order.id, intent.to_dict())
    return await find_order(shop.database, order_id=order.id) or order
