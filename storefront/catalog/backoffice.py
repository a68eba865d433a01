"""The catalogue as the back office changes it: stock set or adjusted with a reason (each change
kept as a stock movement with who and when), and a variant's price and whether it is on sale.
Stock is read fresh by every page; a price or sale change moves the catalogue's revision, so
every worker reloads its copy at once."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update

from storefront.catalog.models import Product, StockMovement
from storefront.catalog.service import bump_revision, variant_t
from storefront.db import Database
from storefront.i18n import N_, ExplainedError
from storefront.tables import table_of

product_t = table_of(Product)
movement_t = table_of(StockMovement)
MAX_STOCK = 1_000_000
MAX_PRICE = 5_000_00  # Rappen: TWINT takes at most CHF 5,000 per payment
_CHANGE = re.compile(r"(?P<sign>[+-])?\s*(?P<units>\d{1,7})")


class StockError(ExplainedError):
    """A change the catalogue cannot take; nothing changed."""


@dataclass(frozen=True, slots=True)
class VariantRow:
    id: int
    product_id: int
    product_name: str
    product_slug: str
    label: str
    sku: str
    price: int
    stock: int
    on_sale: bool


@dataclass(frozen=True, slots=True)
class Movement:
    at: dt.datetime
    sku: str
    change: int
    stock_after: int
    reason: str
    actor: str


_VARIANTS = (
    select(
        variant_t.c.id,
        product_t.c.id,
        product_t.c.name,
        product_t.c.slug,
        variant_t.c.label,
        variant_t.c.sku,
        variant_t.c.price,
        variant_t.c.stock,
        variant_t.c.active,
    )
    .join(product_t, product_t.c.id == variant_t.c.product_id)
    .order_by(product_t.c.position, product_t.c.id, variant_t.c.position, variant_t.c.id)
)
_MOVEMENTS = (
    select(
        movement_t.c.at,
        variant_t.c.sku,
        movement_t.c.change,
        movement_t.c.stock_after,
        movement_t.c.reason,
        movement_t.c.actor,
    )
    .join(variant_t, variant_t.c.id == movement_t.c.variant_id)
    .order_by(movement_t.c.id.desc())
    .limit(bindparam("most"))
)
_LOCK_VARIANT = (
    select(variant_t.c.id, variant_t.c.stock).where(variant_t.c.id == bindparam("variant")).with_for_update()
)


async def list_variants(database: Database) -> list[VariantRow]:
    async with database.read() as connection:
        rows = (await connection.execute(_VARIANTS)).all()
    return [VariantRow(*row) for row in rows]


async def recent_movements(database: Database, most: int = 30) -> list[Movement]:
    async with database.read() as connection:
        rows = (await connection.execute(_MOVEMENTS, {"most": most})).all()
    return [Movement(*row) for row in rows]


def parse_change(text: str) -> tuple[bool, int]:
    """`+5` or `-2` adjusts the stock by that much; `12` sets it (a count of the shelf)."""
    match = _CHANGE.fullmatch(text.strip())
    if match is None:
        raise StockError(N_("Write +5 to add units, -2 to take some away, or 12 to set the stock."))
    units = int(match["units"])
    return match["sign"] is not None, -units if match["sign"] == "-" else units


async def change_stock(database: Database, variant_id: int, text: str, reason: str, actor: str) -> int:
    """Set or adjust a variant's stock; the new stock. The row is locked, so a sale at the same
    moment is counted exactly once, and the stock never goes below zero."""
    relative, units = parse_change(text)
    reason = reason.strip()
    if not reason:
        raise StockError(N_("Say why the stock changes (a delivery, a count, breakage)."))
    async with database.write() as connection:
        row = (await connection.execute(_LOCK_VARIANT, {"variant": variant_id})).one_or_none()
        if row is None:
            raise StockError(N_("There is no such item."))
        new = row.stock + units if relative else units
        if new < 0:
            raise StockError(N_("Only %(stock)s units are in stock; the stock cannot go below zero."), stock=row.stock)
        if new > MAX_STOCK:
            raise StockError(N_("That is more stock than the shop can hold."))
        if new == row.stock:
            return new
        await connection.execute(update(variant_t).where(variant_t.c.id == variant_id).values(stock=new))
        await connection.execute(
            insert(movement_t).values(
                variant_id=variant_id,
                at=dt.datetime.now(dt.UTC),
                change=new - row.stock,
                stock_after=new,
                reason=reason[:200],
                actor=actor,
            )
        )
    return new


async def change_offer(database: Database, variant_id: int, price: int, on_sale: bool) -> None:
    """A variant's price (CHF incl. VAT, in Rappen) and whether it is sold; seen on the shop at once."""
    if not 0 < price <= MAX_PRICE:
        raise StockError(N_("A price is more than CHF 0 and at most CHF 5'000 (TWINT's limit)."))
    async with database.write() as connection:
        changed = await connection.execute(
            update(variant_t)
            .where(variant_t.c.id == variant_id)
            .values(price=price, active=on_sale, updated_at=dt.datetime.now(dt.UTC))
        )
        if changed.rowcount == 0:
            raise StockError(N_("There is no such item."))
        await bump_revision(connection)
