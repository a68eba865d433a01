"""The cart: lines of (variant, quantity) kept in the database under a hashed cookie token.

Every rule about what may go into a cart lives here; routes only translate its outcome."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Integer, Table, bindparam, delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import ReturningInsert

from storefront.cart.models import Cart, CartLine
from storefront.catalog.service import (
    ON_SALE,
    Catalog,
    CatalogSnapshot,
    ProductView,
    VariantView,
    product_t,
    revision_t,
    variant_t,
)
from storefront.db import Database, DbConnection, HotWrite
from storefront.i18n import gettext as _
from storefront.i18n import ngettext
from storefront.money import VatLine, vat_breakdown
from storefront.tables import table_of
from storefront.tokens import token_hash

cart_t = table_of(Cart)
line_t = table_of(CartLine)


class CartError(Exception):
    """A cart change that the rules refuse; the message is for the customer, the cart unchanged."""

    def __init__(self, message: str, status_code: int = 422, variant_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.variant_id = variant_id


@dataclass(frozen=True, slots=True)
class CartLineView:
    product: ProductView
    variant: VariantView
    quantity: int
    in_stock: int

    @property
    def total(self) -> int:
        return self.variant.price * self.quantity

    @property
    def problem(self) -> str | None:
        """Why this line can't be bought as it is (it changed since it was added), or None."""
        if not self.variant.available:
            return _("No longer available. Please remove it.")
        if self.in_stock <= 0:
            return _("Sold out. Please remove it.")
        if self.quantity > self.in_stock:
            return ngettext(
                "Only %(n)d left. Please lower the quantity.",
                "Only %(n)d left. Please lower the quantity.",
                self.in_stock,
            ) % {"n": self.in_stock}
        return None


@dataclass(frozen=True, slots=True)
class CartView:
    lines: tuple[CartLineView, ...]

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal(self) -> int:
        return sum(line.total for line in self.lines)

    @property
    def can_check_out(self) -> bool:
        return bool(self.lines) and all(line.problem is None for line in self.lines)

    def vat_lines(self, on: dt.date) -> list[VatLine]:
        return vat_breakdown(((line.total, line.variant.vat_class) for line in self.lines), on)

    def quantity_of(self, variant_id: int) -> int:
        return next((line.quantity for line in self.lines if line.variant.id == variant_id), 0)


EMPTY_CART = CartView(lines=())


def cart_view(snapshot: CatalogSnapshot, lines: Iterable[tuple[int, int, int]]) -> CartView:
    """The cart from its stored lines as (variant id, quantity, stock), in the order they were added."""
    views = tuple(
        CartLineView(
            product=snapshot.products[snapshot.variants[variant_id].product_id],
            variant=snapshot.variants[variant_id],
            quantity=quantity,
            in_stock=in_stock,
        )
        for variant_id, quantity, in_stock in lines
        if variant_id in snapshot.variants
    )
    return CartView(views) if views else EMPTY_CART


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


def parse_quantity(raw: str | None, max_quantity: int) -> int:
    text = (raw or "").strip()
    if not text:
        raise CartError(_("Please enter a quantity."), 400)
    if not _WHOLE_NUMBER.fullmatch(text):
        raise CartError(_("The quantity must be a whole number."), 400)
    digits = text.lstrip("+-").lstrip("0")
    if text.startswith("-") or not digits:
        raise CartError(_("The quantity must be at least 1."), 400)
    # A number longer than the maximum is refused before int() has to read all of it.
    quantity = int(digits) if len(digits) <= len(str(max_quantity)) else max_quantity + 1
    if quantity < 1:
        raise CartError(_("The quantity must be at least 1."), 400)
    if quantity > max_quantity:
        raise CartError(_("At most %(max)d per item, please.") % {"max": max_quantity}, 400)
    return quantity


def parse_variant_id(raw: str | None) -> int:
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise CartError(_("Please choose an option."), 400)
    return int(text)


def _on_sale(snapshot: CatalogSnapshot, variant_id: int) -> VariantView:
    variant = snapshot.variants.get(variant_id)
    if variant is None or not variant.available:
        raise CartError(_("This item is not available."), 404, variant_id)
    return variant


def _check_stock(variant_id: int, in_stock: int, quantity: int) -> None:
    if in_stock <= 0:
        raise CartError(_("Sorry, this item is sold out."), 409, variant_id)
    if quantity > in_stock:
        raise CartError(
            ngettext("Only %(n)d left in stock.", "Only %(n)d left in stock.", in_stock) % {"n": in_stock},
            409,
            variant_id,
        )


async def add_to_cart(
    database: Database, catalog: Catalog, token: str, variant_id: int, quantity: int, max_quantity: int
) -> None:
    """Add `quantity` units to what the cart already holds of this variant."""
    if not database.sqlite:
        parameters = {"token_hash": token_hash(token), "now": _now(), "variant_id": variant_id}
        if await database.hot_write(_ADD_AT_ONCE, **parameters, quantity=quantity, max_quantity=max_quantity):
            return
        # Refused: the transaction below finds out why and says so (or adds, if stock came in since).
    dialect = "sqlite" if database.sqlite else "postgresql"
    async with database.write() as connection:
        # The upsert locks the cart's row until the end, so adds from several tabs take turns.
        cart_id = await connection.scalar(_OPEN_CART[dialect], {"token_hash": token_hash(token), "now": _now()})
        assert cart_id is not None  # the upsert returns the cart's id, whether it made the cart or touched it
        in_stock, held, revision = await _stock_and_held(connection, cart_id, variant_id)
        _on_sale(await catalog.at_revision(connection, revision), variant_id)  # else all is rolled back
        wanted = (held or 0) + quantity
        if wanted > max_quantity:
            raise CartError(_("At most %(max)d per item, please.") % {"max": max_quantity}, 400, variant_id)
        _check_stock(variant_id, in_stock, wanted)
        await connection.execute(_PUT_LINE[dialect], {"cart_id": cart_id, "variant_id": variant_id, "quantity": wanted})


async def set_quantity(database: Database, catalog: Catalog, token: str | None, variant_id: int, quantity: int) -> None:
    async with database.write() as connection:
        _on_sale(await catalog.current(connection), variant_id)
        cart_id = await _existing_cart_id(connection, token)
        in_stock, held, _revision = await _stock_and_held(connection, cart_id, variant_id)
        if held is None:
            raise CartError(_("This item is no longer in your cart."), 404, variant_id)
        _check_stock(variant_id, in_stock, quantity)
        await connection.execute(
            _SET_QUANTITY, {"line_cart": cart_id, "line_variant": variant_id, "line_quantity": quantity}
        )
        await connection.execute(_TOUCH_CART, {"cart_id": cart_id, "now": _now()})


async def remove_line(database: Database, token: str | None, variant_id: int) -> None:
    """Removing what is not there is not an error: the customer's wish already holds."""
    if not token:
        return
    async with database.write() as connection:
        cart_id = await connection.scalar(_FIND_CART, {"token_hash": token_hash(token)})
        if cart_id is None:
            return
        await connection.execute(_REMOVE_LINE, {"cart_id": cart_id, "variant_id": variant_id})
        await connection.execute(_TOUCH_CART, {"cart_id": cart_id, "now": _now()})


async def _stock_and_held(connection: DbConnection, cart_id: int, variant_id: int) -> tuple[int, int | None, int]:
    """The variant's stock, how many of it the cart holds (None: no line) and the catalogue's
    revision, in one round trip."""
    row = (await connection.execute(_STOCK_AND_HELD, {"cart_id": cart_id, "variant_id": variant_id})).one_or_none()
    if row is None:
        raise CartError(_("This item is not available."), 404, variant_id)
    return row[0], row[1], row[2]


async def _existing_cart_id(connection: DbConnection, token: str | None) -> int:
    cart_id: int | None = await connection.scalar(_FIND_CART, {"token_hash": token_hash(token)}) if token else None
    if cart_id is None:
        raise CartError(_("Your cart is empty."), 404)
    return cart_id


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- statements, built once (building one costs more than running it on SQLite) -----------------

_FIND_CART = select(cart_t.c.id).where(cart_t.c.token_hash == bindparam("token_hash"))
_TOUCH_CART = update(cart_t).where(cart_t.c.id == bindparam("cart_id")).values(updated_at=bindparam("now"))
_STOCK_AND_HELD = select(
    variant_t.c.stock,
    select(line_t.c.quantity)
    .where(line_t.c.cart_id == bindparam("cart_id"), line_t.c.variant_id == variant_t.c.id)
    .scalar_subquery(),
    select(revision_t.c.revision).where(revision_t.c.id == 1).scalar_subquery(),
).where(variant_t.c.id == bindparam("variant_id"))
_SET_QUANTITY = (  # UPDATE keeps column names for its SET clause, hence the "line_" names
    update(line_t)
    .where(line_t.c.cart_id == bindparam("line_cart"), line_t.c.variant_id == bindparam("line_variant"))
    .values(quantity=bindparam("line_quantity"))
)
_REMOVE_LINE = delete(line_t).where(
    line_t.c.cart_id == bindparam("cart_id"), line_t.c.variant_id == bindparam("variant_id")
)


# An upsert (INSERT … ON CONFLICT) is written with the dialect's own `insert`.
_DialectInsert = Callable[[Table], sqlite.Insert | postgresql.Insert]


def _open_cart(insert: _DialectInsert) -> ReturningInsert[int]:
    """Create the cart or touch it, and return its id, in one statement."""
    statement = insert(cart_t).values(
        token_hash=bindparam("token_hash"), created_at=bindparam("now"), updated_at=bindparam("now")
    )
    return statement.on_conflict_do_update(
        index_elements=["token_hash"], set_={"updated_at": statement.excluded.updated_at}
    ).returning(cart_t.c.id)


def _put_line(insert: _DialectInsert) -> sqlite.Insert | postgresql.Insert:
    statement = insert(line_t).values(
        cart_id=bindparam("cart_id"), variant_id=bindparam("variant_id"), quantity=bindparam("quantity")
    )
    return statement.on_conflict_do_update(
        index_elements=["cart_id", "variant_id"], set_={"quantity": statement.excluded.quantity}
    )


_OPEN_CART = {"sqlite": _open_cart(sqlite.insert), "postgresql": _open_cart(postgresql.insert)}
_PUT_LINE = {"sqlite": _put_line(sqlite.insert), "postgresql": _put_line(postgresql.insert)}


def _add_at_once(_dialect: str) -> ClauseElement:
    """PostgreSQL: the whole add in one statement, so in one round trip. It opens or touches the
    cart and adds to its line only if the variant and its product are on sale (as the catalogue's
    `available` says) and the line stays within the stock and the most per line; it returns the
    line's new quantity, or no row if it refused. The line's ON CONFLICT update reads the line as
    last committed, whatever the statement's snapshot, so adds from several tabs at once all count."""
    quantity, most = bindparam("quantity", type_=Integer), bindparam("max_quantity", type_=Integer)
    on_sale = (
        select(variant_t.c.id, variant_t.c.stock)
        .join(product_t, product_t.c.id == variant_t.c.product_id)
        .where(variant_t.c.id == bindparam("variant_id"), ON_SALE)
        .cte("on_sale")
    )
    fits = quantity <= func.least(on_sale.c.stock, most)
    new_cart = postgresql.insert(cart_t).from_select(
        ["token_hash", "created_at", "updated_at"],
        # no cart is made for an add that can't be made
        select(bindparam("token_hash"), bindparam("now"), bindparam("now")).where(exists(on_sale.select().where(fits))),
    )
    opened = (
        new_cart.on_conflict_do_update(index_elements=["token_hash"], set_={"updated_at": new_cart.excluded.updated_at})
        .returning(cart_t.c.id)
        .cte("opened")
    )
    new_line = postgresql.insert(line_t).from_select(
        ["cart_id", "variant_id", "quantity"], select(opened.c.id, on_sale.c.id, quantity).where(fits)
    )
    wanted = line_t.c.quantity + new_line.excluded.quantity
    put = (
        new_line.on_conflict_do_update(
            index_elements=["cart_id", "variant_id"],
            set_={"quantity": wanted},
            where=wanted <= func.least(select(on_sale.c.stock).scalar_subquery(), most),
        )
        .returning(line_t.c.quantity)
        .cte("put")
    )
    return select(put.c.quantity)


_ADD_AT_ONCE = HotWrite("add to cart", _add_at_once)


EXPIRE_BATCH = 500
_EXPIRED = select(cart_t.c.id).where(cart_t.c.updated_at < bindparam("before")).limit(EXPIRE_BATCH)


async def expire_carts(database: Database, unchanged_for: dt.timedelta) -> int:
    """Delete carts left unchanged for `unchanged_for`, with their lines (a few hundred per call,
    so a long-idle shop catching up never holds the write lock for long). The number deleted."""
    before = dt.datetime.now(dt.UTC) - unchanged_for
    async with database.read() as connection:
        ids = [row.id for row in await connection.execute(_EXPIRED, {"before": before})]
    if not ids:
        return 0
    async with database.write() as connection:
        # checked again: a customer may have changed the cart since it was read
        result = await connection.execute(delete(cart_t).where(cart_t.c.id.in_(ids), cart_t.c.updated_at < before))
    return int(result.rowcount or 0)
