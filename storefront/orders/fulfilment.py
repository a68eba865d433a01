"""Getting a paid order to its customer: shipped with Swiss Post (with a tracking number the
customer's e-mail links to), or made ready for pick-up and then picked up. Each step is taken once,
in order, under the order's row lock, and written to its timeline with who took it."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import bindparam, select, update

from storefront.db import Database
from storefront.i18n import N_, ExplainedError
from storefront.orders.emails import queue_ready_for_pickup, queue_shipped
from storefront.orders.models import FULFILMENT_STEPS, Fulfilment, OrderStatus
from storefront.orders.timeline import Source, record_event
from storefront.orders.views import order_t
from storefront.shipping import shipping_method

# Swiss Post's consignment numbers: parcels 99.00.123456.12345678, registered letters
# 98.00.123456.12345678, Swiss-Courier 97.00.00123456, letters 12345678.123456.123456789, and
# international items RR123456789CH (https://www.post.ch/en/help-and-contact/receiving-mail).
_DOMESTIC = re.compile(r"\d[\d.]{8,30}\d")
_INTERNATIONAL = re.compile(r"[A-Z]{2}\d{9}[A-Z]{2}")


class FulfilmentError(ExplainedError):
    """A step the order cannot take; nothing changed."""


def tracking_number(raw: str) -> str | None:
    """A Swiss Post consignment number as the customer will type it into Post's tracking, or None."""
    number = re.sub(r"\s+", "", raw).upper()
    if not number:
        return None
    domestic = _DOMESTIC.fullmatch(number) is not None and sum(c.isdigit() for c in number) >= 10
    if not (domestic or _INTERNATIONAL.fullmatch(number)):
        raise FulfilmentError(
            N_("This is not a Swiss Post consignment number (for example 99.00.123456.12345678 or RR123456789CH).")
        )
    return number


_LOCK_ORDER = select(order_t).where(order_t.c.id == bindparam("order")).with_for_update()


async def fulfil(
    database: Database,
    order_id: int,
    step: Fulfilment,
    actor: str,
    *,
    tracking: str | None = None,
    pickup_address: str = "",
) -> None:
    async with database.write() as connection:
        order = (await connection.execute(_LOCK_ORDER, {"order": order_id})).one_or_none()
        if order is None:
            raise FulfilmentError(N_("There is no such order."))
        if order.status != OrderStatus.PAID.value:
            raise FulfilmentError(N_("Only a paid order can be shipped or handed over."))
        current = Fulfilment(order.fulfilment)
        if step == current:
            return  # a second click
        if step not in FULFILMENT_STEPS[current]:
            raise FulfilmentError(N_("This step was taken already or comes too early for this order."))
        method = shipping_method(order.shipping_method)
        ships = method.ships if method else True
        if ships != (step == Fulfilment.SHIPPED):
            raise FulfilmentError(
                N_("This order is sent by post.") if ships else N_("This order is picked up in the shop, not sent.")
            )
        await connection.execute(
            update(order_t)
            .where(order_t.c.id == order_id)
            .values(fulfilment=step.value, tracking_number=tracking, updated_at=dt.datetime.now(dt.UTC))
        )
        if step == Fulfilment.SHIPPED:
            await queue_shipped(connection, order, tracking)
        elif step == Fulfilment.READY_FOR_PICKUP:
            await queue_ready_for_pickup(connection, order, pickup_address)
        detail = f"tracking number {tracking}" if tracking else ""
        await record_event(connection, order_id, step.value, Source.BACK_OFFICE, actor=actor, detail=detail)
