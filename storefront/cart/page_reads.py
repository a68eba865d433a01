"""What every page reads fresh, in one statement: the catalogue revision (is this worker's copy
current?), the stock of the variants the page shows, and the visitor's cart lines with their
stock. One round trip instead of three keeps a product page within its performance budget on
SQLite and saves two network round trips per page on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, literal_column, null, select, union_all

from storefront.cart.models import Cart, CartLine
from storefront.cart.service import CartView, cart_view
from storefront.catalog.service import Catalog, CatalogSnapshot, Stock, read_stock, revision_t, variant_t
from storefront.db import Database
from storefront.tables import table_of
from storefront.tokens import token_hash

cart_t = table_of(Cart)
line_t = table_of(CartLine)

_REVISION, _STOCK, _CART_LINE = 0, 1, 2


def _row(
    kind: int,
    ref: ColumnElement[Any],
    quantity: ColumnElement[Any],
    stock: ColumnElement[Any],
    order: ColumnElement[Any],
) -> Select[Any]:
    return select(
        literal_column(str(kind)).label("kind"),
        ref.label("ref"),
        quantity.label("quantity"),
        stock.label("stock"),
        order.label("position"),
    )


_NOTHING = null().cast(Integer)
_PAGE_STATE = union_all(
    _row(_REVISION, revision_t.c.revision, _NOTHING, _NOTHING, literal_column("0")).where(revision_t.c.id == 1),
    _row(_STOCK, variant_t.c.id, _NOTHING, variant_t.c.stock, literal_column("0")).where(
        variant_t.c.id.in_(bindparam("ids", expanding=True))
    ),
    _row(_CART_LINE, line_t.c.variant_id, line_t.c.quantity, variant_t.c.stock, line_t.c.id)
    .select_from(
        line_t.join(cart_t, cart_t.c.id == line_t.c.cart_id).join(variant_t, variant_t.c.id == line_t.c.variant_id)
    )
    .where(cart_t.c.token_hash == bindparam("token_hash")),
).order_by("kind", "position")


@dataclass(frozen=True, slots=True)
class PageState:
    snapshot: CatalogSnapshot
    stock: Stock
    cart: CartView


async def read_page_state(
    database: Database,
    catalog: Catalog,
    token: str | None,
    shown: Callable[[CatalogSnapshot], Iterable[int]] | None = None,
) -> PageState:
    """`token` is the visitor's cart's (None: no cart yet); `shown` picks, from the catalogue, the
    variants whose stock the page shows."""
    wanted = set(shown(catalog.snapshot)) if shown else set()
    async with database.read() as connection:
        rows = (
            await connection.execute(
                _PAGE_STATE, {"ids": list(wanted), "token_hash": token_hash(token) if token else ""}
            )
        ).all()
        revision = next(row.ref for row in rows if row.kind == _REVISION)
        snapshot = await catalog.at_revision(connection, revision)
        levels = {row.ref: row.stock for row in rows if row.kind != _REVISION}
        if shown and (missing := set(shown(snapshot)) - levels.keys()):
            levels.update((await read_stock(connection, missing)).levels)  # the catalogue changed under us
    cart = cart_view(snapshot, ((row.ref, row.quantity, row.stock) for row in rows if row.kind == _CART_LINE))
    return PageState(snapshot, Stock(levels), cart)
