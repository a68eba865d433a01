"""An order's hold on the stock: its units are taken when it is placed and given back when it is
cancelled, each with a conditional update so stock never goes below zero, however many customers
buy the last unit at once (docs/security.md, "Stock reservations")."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update

from storefront.catalog.service import variant_t
from storefront.db import DbConnection
from storefront.orders.models import OrderLine
from storefront.tables import table_of

order_line_t = table_of(OrderLine)

RESERVE = (
    update(variant_t)
    .where(variant_t.c.id == bindparam("variant"), variant_t.c.stock >= bindparam("units"))
    .values(stock=variant_t.c.stock - bindparam("units"))
)
_RELEASE = (
    update(variant_t).where(variant_t.c.id == bindparam("variant")).values(stock=variant_t.c.stock + bindparam("units"))
)
ORDER_LINES = select(order_line_t.c.variant_id, order_line_t.c.quantity).where(
    order_line_t.c.order_id == bindparam("order")
)


async def reserve(connection: DbConnection, variant_id: int, units: int) -> bool:
    """Take `units` if there are that many; False (and nothing taken) otherwise."""
    return (await connection.execute(RESERVE, {"variant": variant_id, "units": units})).rowcount == 1


async def release_stock(connection: DbConnection, order_id: int) -> None:
    """Give an order's units back (in the transaction that cancels it)."""
    for line in (await connection.execute(ORDER_LINES, {"order": order_id})).all():
        if line.variant_id is not None:
            await connection.execute(_RELEASE, {"variant": line.variant_id, "units": line.quantity})


async def reserve_again(connection: DbConnection, order_id: int) -> bool:
    """For a late success on a cancelled order: take the stock again, all lines or none."""
    taken: list[tuple[int, int]] = []
    for line in (await connection.execute(ORDER_LINES, {"order": order_id})).all():
        if line.variant_id is None or not await reserve(connection, line.variant_id, line.quantity):
            break
        taken.append((line.variant_id, line.quantity))
    else:
        return True
    for variant_id, quantity in taken:
        await connection.execute(_RELEASE, {"variant": variant_id, "units": quantity})
    return False


async def put_back(connection: DbConnection, variant_id: int, units: int) -> None:
    """Units that came back (a refund whose goods return to the shelf)."""
    await connection.execute(_RELEASE, {"variant": variant_id, "units": units})
