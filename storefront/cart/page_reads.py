"""What every page reads fresh, in one statement: the catalogue revision (is this worker's copy
current?), the stock of the variants the page shows, and the visitor's cart lines with their
stock. One round trip instead of three keeps a product page within its performance budget on
SQLite and saves two network round trips per page on PostgreSQL. It is a `HotRead`: compiled once
and run on the driver's own connection."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    literal_column,
    null,
    select,
    union_all,
)

from storefront.cart.models import Cart, CartLine
from storefront.cart.service import CartView, cart_view
from storefront.catalog.service import Catalog, CatalogSnapshot, Stock, read_stock, revision_t, variant_t
from storefront.db import Database, HotRead
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


def page_state_parts(dialect: str) -> list[Select[Any]]:
    """The page state's three parts, each row's `kind` telling which (0, 1 and 2): its statement
    reads them alone, and the order pages' statement with their order."""
    return [
        _row(_REVISION, revision_t.c.revision, _NOTHING, _NOTHING, literal_column("0")).where(revision_t.c.id == 1),
        _row(_STOCK, variant_t.c.id, _NOTHING, variant_t.c.stock, literal_column("0")).where(
            Database.in_id_list(dialect, variant_t.c.id, "ids")
        ),
        _row(_CART_LINE, line_t.c.variant_id, line_t.c.quantity, variant_t.c.stock, line_t.c.id)
        .select_from(
            line_t.join(cart_t, cart_t.c.id == line_t.c.cart_id).join(variant_t, variant_t.c.id == line_t.c.variant_id)
        )
        .where(cart_t.c.token_hash == bindparam("token_hash")),
    ]


PAGE_STATE_KINDS = (_REVISION, _STOCK, _CART_LINE)


def _page_state(dialect: str) -> CompoundSelect[Any]:
    return union_all(*page_state_parts(dialect)).order_by("kind", "position")


_PAGE_STATE = HotRead("page_state", _page_state)
_KIND, _REF, _QUANTITY, _STOCK_LEVEL = 0, 1, 2, 3


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
    before = catalog.snapshot
    wanted = set(shown(before)) if shown else set()
    rows = await database.hot_rows(_PAGE_STATE, **page_state_parameters(database, token, wanted))
    return await page_state_of(database, catalog, rows, before, shown)


def page_state_parameters(database: Database, token: str | None, shown: Iterable[int] = ()) -> dict[str, Any]:
    """The page state's parameters: the variants whose stock is shown, and the visitor's cart."""
    return {"ids": database.id_list(sorted(shown)), "token_hash": token_hash(token) if token else ""}


async def page_state_of(
    database: Database,
    catalog: Catalog,
    rows: Sequence[Sequence[Any]],
    before: CatalogSnapshot,
    shown: Callable[[CatalogSnapshot], Iterable[int]] | None = None,
) -> PageState:
    """The page state from its rows (kind, ref, quantity and stock their first columns); `before`
    is the catalogue snapshot `shown` picked the variants from, before the read."""
    revision = next(row[_REF] for row in rows if row[_KIND] == _REVISION)
    levels = {row[_REF]: row[_STOCK_LEVEL] for row in rows if row[_KIND] != _REVISION}
    snapshot = catalog.snapshot
    if revision != catalog.revision or snapshot is not before:
        async with database.read() as connection:  # the catalogue changed: this worker's copy is reloaded
            snapshot = await catalog.at_revision(connection, revision)
            if shown and (missing := set(shown(snapshot)) - levels.keys()):
                levels.update((await read_stock(connection, missing)).levels)
    lines = ((row[_REF], row[_QUANTITY], row[_STOCK_LEVEL]) for row in rows if row[_KIND] == _CART_LINE)
    return PageState(snapshot, Stock(levels), cart_view(snapshot, lines))
