"""The cart: lines of (variant, quantity) kept in the database under a hashed cookie token.

Every rule about what may go into a cart lives here; routes only translate its outcome."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storefront.cart.models import Cart, CartLine
from storefront.catalog.service import Catalog, CatalogSnapshot, ProductView, Stock, VariantView, read_stock
from storefront.db import Database, DbConnection
from storefront.i18n import gettext as _
from storefront.i18n import ngettext
from storefront.money import VatLine, vat_breakdown

cart_t = Cart.__table__
line_t = CartLine.__table__


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Only the hash is stored: a leaked database row does not let anyone into a cart."""
    return hashlib.sha256(token.encode()).hexdigest()


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


async def read_cart(
    connection: DbConnection, token: str | None, snapshot: CatalogSnapshot, stock: Stock | None = None
) -> tuple[CartView, Stock]:
    """The cart for a cookie token, with the stock of its variants (and of `stock`'s, if given)."""
    if not token:
        return EMPTY_CART, stock or Stock({})
    rows = (
        await connection.execute(
            select(line_t.c.variant_id, line_t.c.quantity)
            .join(cart_t, cart_t.c.id == line_t.c.cart_id)
            .where(cart_t.c.token_hash == hash_token(token))
            .order_by(line_t.c.id)
        )
    ).all()
    lines = [
        (snapshot.variants[variant_id], quantity) for variant_id, quantity in rows if variant_id in snapshot.variants
    ]
    if not lines:
        return EMPTY_CART, stock or Stock({})
    missing = [variant.id for variant, _quantity in lines if stock is None or variant.id not in stock.levels]
    if missing:
        fresh = await read_stock(connection, missing)
        stock = Stock({**(stock.levels if stock else {}), **fresh.levels})
    assert stock is not None
    view = CartView(
        tuple(
            CartLineView(
                product=snapshot.products[variant.product_id],
                variant=variant,
                quantity=quantity,
                in_stock=stock.of(variant.id),
            )
            for variant, quantity in lines
        )
    )
    return view, stock


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


def _insert(database: Database):
    return sqlite.insert if database.sqlite else postgresql.insert


def _on_sale(snapshot: CatalogSnapshot, variant_id: int) -> VariantView:
    variant = snapshot.variants.get(variant_id)
    if variant is None or not variant.available:
        raise CartError(_("This item is not available."), 404, variant_id)
    return variant


async def _check_stock(connection: DbConnection, variant: VariantView, quantity: int) -> None:
    in_stock = (await read_stock(connection, [variant.id])).of(variant.id)
    if in_stock <= 0:
        raise CartError(_("Sorry, this item is sold out."), 409, variant.id)
    if quantity > in_stock:
        raise CartError(
            ngettext("Only %(n)d left in stock.", "Only %(n)d left in stock.", in_stock) % {"n": in_stock},
            409,
            variant.id,
        )


async def _cart_id(connection: DbConnection, database: Database, token: str) -> int:
    token_hash = hash_token(token)
    await connection.execute(
        _insert(database)(cart_t)
        .values(token_hash=token_hash, created_at=_now(), updated_at=_now())
        .on_conflict_do_nothing(index_elements=["token_hash"])
    )
    return await connection.scalar(select(cart_t.c.id).where(cart_t.c.token_hash == token_hash))


async def add_to_cart(
    database: Database, catalog: Catalog, token: str, variant_id: int, quantity: int, max_quantity: int
) -> None:
    """Add `quantity` units to what the cart already holds of this variant."""
    async with database.write() as connection:
        variant = _on_sale(await catalog.current(connection), variant_id)
        cart_id = await _cart_id(connection, database, token)
        held = (
            await connection.scalar(
                select(line_t.c.quantity).where(line_t.c.cart_id == cart_id, line_t.c.variant_id == variant_id)
            )
            or 0
        )
        wanted = held + quantity
        if wanted > max_quantity:
            raise CartError(_("At most %(max)d per item, please.") % {"max": max_quantity}, 400, variant_id)
        await _check_stock(connection, variant, wanted)
        insert = _insert(database)(line_t).values(cart_id=cart_id, variant_id=variant_id, quantity=wanted)
        await connection.execute(
            insert.on_conflict_do_update(index_elements=["cart_id", "variant_id"], set_={"quantity": wanted})
        )
        await _touch(connection, cart_id)


async def set_quantity(database: Database, catalog: Catalog, token: str | None, variant_id: int, quantity: int) -> None:
    async with database.write() as connection:
        variant = _on_sale(await catalog.current(connection), variant_id)
        cart_id = await _existing_cart_id(connection, token)
        await _check_stock(connection, variant, quantity)
        result = await connection.execute(
            update(line_t)
            .where(line_t.c.cart_id == cart_id, line_t.c.variant_id == variant_id)
            .values(quantity=quantity)
        )
        if result.rowcount == 0:
            raise CartError(_("This item is no longer in your cart."), 404, variant_id)
        await _touch(connection, cart_id)


async def remove_line(database: Database, token: str | None, variant_id: int) -> None:
    """Removing what is not there is not an error: the customer's wish already holds."""
    if not token:
        return
    async with database.write() as connection:
        cart_id = await connection.scalar(select(cart_t.c.id).where(cart_t.c.token_hash == hash_token(token)))
        if cart_id is None:
            return
        await connection.execute(delete(line_t).where(line_t.c.cart_id == cart_id, line_t.c.variant_id == variant_id))
        await _touch(connection, cart_id)


async def _existing_cart_id(connection: DbConnection, token: str | None) -> int:
    cart_id = None
    if token:
        cart_id = await connection.scalar(select(cart_t.c.id).where(cart_t.c.token_hash == hash_token(token)))
    if cart_id is None:
        raise CartError(_("Your cart is empty."), 404)
    return cart_id


async def _touch(connection: DbConnection, cart_id: int) -> None:
    await connection.execute(update(cart_t).where(cart_t.c.id == cart_id).values(updated_at=_now()))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
