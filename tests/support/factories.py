"""Orders in each state the shop knows, made through the shop's own services: a cart, an order
waiting for TWINT, a paid order, an order that TWINT paid twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

from storefront.cart.service import add_to_cart
from storefront.catalog.service import Catalog
from storefront.db import Database
from storefront.orders.lifecycle import Applied, apply_payment_state, record_payment
from storefront.orders.models import PaymentStatus
from storefront.orders.placing import Customer, PlacedOrder, place_order
from storefront.orders.provider import IntentState, order_reference
from storefront.orders.timeline import Source
from storefront.settings import Settings
from storefront.shipping import shipping_method
from storefront.tokens import new_token
from tests.support.db import variant_id, with_database

CUSTOMER = Customer(
    email="anna@example.ch",
    name="Anna Muster",
    phone=None,
    street="Bahnhofstrasse 1",
    postal_code="8001",
    city="Zürich",
    country="CH",
)
TODAY = dt.date(2026, 11, 30)


def fill_cart(settings: Settings, *lines: tuple[str, int]) -> str:
    """A new cart with (sku, quantity) lines; its token."""
    token = new_token()
    ids = [(variant_id(settings, sku), quantity) for sku, quantity in lines]

    async def work(database: Database, catalog: Catalog) -> None:
        for variant, quantity in ids:
            await add_to_cart(database, catalog, token, variant, quantity, 99)

    with_database(settings, work)
    return token


def place(settings: Settings, token: str, method: str = "b_post") -> PlacedOrder:
    shipping = shipping_method(method)
    assert shipping is not None
    return with_database(settings, lambda db, cat: place_order(db, cat, token, CUSTOMER, shipping, TODAY))


def intent(order: PlacedOrder, status: PaymentStatus | str, **changes: Any) -> IntentState:
    """What the provider reports about the order's payment `pi_for_<order id>`."""
    values: dict[str, Any] = {
        "id": f"pi_for_{order.id}",
        "status": PaymentStatus(status),
        "amount": order.total,
        "currency": "chf",
        "order_id": order.id,
        "order_ref": order_reference(order.public_token),
        "client_secret": f"pi_for_{order.id}_secret_{order.public_token[:8]}",
    }
    return IntentState(**(values | changes))


def record(settings: Settings, order: PlacedOrder, state: IntentState) -> None:
    with_database(settings, lambda db, _cat: record_payment(db, order.id, state))


def apply(settings: Settings, state: IntentState, source: Source = Source.WEBHOOK) -> Applied:
    return with_database(settings, lambda db, _cat: apply_payment_state(db, state, source))


def waiting_order(settings: Settings, *lines: tuple[str, int]) -> PlacedOrder:
    """An order whose stock is reserved and whose payment `pi_for_<id>` waits for the customer in TWINT."""
    order = place(settings, fill_cart(settings, *lines))
    record(settings, order, intent(order, PaymentStatus.PENDING))
    return order


def paid_order(settings: Settings, *lines: tuple[str, int]) -> PlacedOrder:
    order = waiting_order(settings, *lines)
    applied = apply(settings, intent(order, PaymentStatus.SUCCEEDED))
    assert applied.changed
    return order


def order_with_second_payment(settings: Settings, *lines: tuple[str, int]) -> PlacedOrder:
    """A paid order that TWINT paid a second time, through another PaymentIntent."""
    order = paid_order(settings, *lines)
    apply(settings, intent(order, PaymentStatus.SUCCEEDED, id=f"pi_again_{order.id}", client_secret=None))
    return order
