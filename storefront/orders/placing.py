"""Placing an order: one transaction that snapshots the cart's lines at the price the customer
saw, reserves their stock with a conditional update (all lines or none) and records the order,
before anyone talks to the payment provider."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import bindparam, func, insert, select, update

from storefront import twint
from storefront.cart.models import Cart, CartLine
from storefront.catalog.service import Catalog, CatalogSnapshot
from storefront.db import Database, DbConnection
from storefront.i18n import current_language
from storefront.money import vat_rate
from storefront.orders.lifecycle import cancel_unpaid
from storefront.orders.models import UNPAID, OrderStatus
from storefront.orders.stock import ORDER_LINES, reserve
from storefront.orders.timeline import Source, record_event
from storefront.orders.views import order_line_t, order_t
from storefront.shipping import ShippingMethod, shipping_price
from storefront.tables import table_of
from storefront.tokens import token_hash

cart_t = table_of(Cart)
cart_line_t = table_of(CartLine)

ORDER_NUMBER_OFFSET = 1000  # the first order is number 1001


@dataclass(frozen=True, slots=True)
class HoardingLimits:
    """Nobody can hold the stock without paying: one client address holds at most `unpaid` unpaid
    orders at a time and places at most `per_hour` orders an hour (customers who share an address,
    in an office or on a mobile network, hold one or two each). The orders table itself is the
    record, so every worker sees the same counts."""

    unpaid: int = 3
    per_hour: int = 10


def client_reference(secret_key: str, address: str) -> str:
    """A client address as orders keep it: a keyed hash, so the database holds no IP addresses and
    the hash cannot be reversed by trying every address without the shop's secret key."""
    return hmac.new(secret_key.encode(), f"client:{address}".encode(), hashlib.sha256).hexdigest()[:32]


_UNPAID_FROM = select(func.count()).where(
    order_t.c.placed_from == bindparam("client"), order_t.c.status.in_([s.value for s in UNPAID])
)
_PLACED_FROM_SINCE = select(func.count()).where(
    order_t.c.placed_from == bindparam("client"), order_t.c.created_at >= bindparam("since")
)


async def _refuse_hoarding(connection: DbConnection, client: str, limits: HoardingLimits, postgresql: bool) -> None:
    if postgresql:
        # two checkouts from one address wait for each other, so both cannot pass the count
        key = int.from_bytes(hashlib.sha256(client.encode()).digest()[:8], "big", signed=True)
        await connection.execute(select(func.pg_advisory_xact_lock(key)))
    if (await connection.scalar(_UNPAID_FROM, {"client": client}) or 0) >= limits.unpaid:
        raise OrderRefused("too_many_unpaid")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    placed = await connection.scalar(_PLACED_FROM_SINCE, {"client": client, "since": since}) or 0
    if placed >= limits.per_hour:
        raise OrderRefused("too_many_orders")


@dataclass(frozen=True, slots=True)
class Customer:
    email: str
    name: str
    phone: str | None
    street: str
    postal_code: str
    city: str
    country: str  # CH or LI


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    id: int
    number: str
    public_token: str
    total: int


class OrderRefused(Exception):
    """Nothing was reserved or recorded. `reason` says why; `items` names the lines concerned as the
    customer knows them ("Merino Beanie (Red)")."""

    def __init__(self, reason: str, items: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.items = items


_LOCK_CART = select(cart_t.c.id).where(cart_t.c.token_hash == bindparam("token_hash")).with_for_update()
_OPEN_ORDERS = (
    select(order_t.c.id, order_t.c.number, order_t.c.public_token, order_t.c.total, order_t.c.shipping_method)
    .where(order_t.c.cart_token_hash == bindparam("token_hash"), order_t.c.status.in_([s.value for s in UNPAID]))
    .order_by(order_t.c.id.desc())
)
_CART_LINES = (
    select(cart_line_t.c.variant_id, cart_line_t.c.quantity)
    .join(cart_t, cart_t.c.id == cart_line_t.c.cart_id)
    .where(cart_t.c.token_hash == bindparam("token_hash"))
    .order_by(cart_line_t.c.id)
)


async def place_order(
    database: Database,
    catalog: Catalog,
    cart_token: str,
    customer: Customer,
    shipping: ShippingMethod,
    on: dt.date,
    free_shipping_from: int = 100_00,
    client: str | None = None,
    limits: HoardingLimits = HoardingLimits(),
) -> PlacedOrder:
    """Reserve the cart's stock and record a pending order; the cart itself stays until it is paid.
    `client` is the placing address's `client_reference`, counted against the hoarding limits."""
    cart_hash = token_hash(cart_token)
    async with database.write() as connection:
        # One checkout per cart at a time: a double click or a second tab waits here (PostgreSQL
        # row lock; SQLite's writer lock), then finds the order the first one placed.
        await connection.execute(_LOCK_CART, {"token_hash": cart_hash})
        snapshot = await catalog.current(connection)
        lines = [
            (row.variant_id, row.quantity) for row in await connection.execute(_CART_LINES, {"token_hash": cart_hash})
        ]
        if not lines:
            raise OrderRefused("empty")
        existing = await _open_order_for(connection, cart_hash, lines, shipping, customer)
        if existing is not None:
            return existing
        if client is not None:
            await _refuse_hoarding(connection, client, limits, not database.sqlite)
        unavailable = [
            _item_name(snapshot, v)
            for v, _q in lines
            if v not in snapshot.variants or not snapshot.variants[v].available
        ]
        if unavailable:
            raise OrderRefused("unavailable", tuple(unavailable))
        subtotal = sum(snapshot.variants[variant_id].price * quantity for variant_id, quantity in lines)
        shipping_cost = shipping_price(shipping, subtotal, free_shipping_from)
        total = subtotal + shipping_cost
        if total > twint.MAX_AMOUNT:
            raise OrderRefused("above_twint_limit")
        if total < twint.MIN_AMOUNT:
            raise OrderRefused("below_twint_limit")
        sold_out = [_item_name(snapshot, v) for v, quantity in lines if not await reserve(connection, v, quantity)]
        if sold_out:
            raise OrderRefused("sold_out", tuple(sold_out))  # the transaction rolls every line back
        now = dt.datetime.now(dt.UTC)
        public_token = secrets.token_urlsafe(32)
        order_id = await connection.scalar(
            insert(order_t)
            .values(
                number="pending",
                public_token=public_token,
                status=OrderStatus.PENDING_PAYMENT.value,
                cart_token_hash=cart_hash,
                placed_from=client,
                **asdict(customer),
                shipping_method=shipping.code,
                shipping_price=shipping_cost,
                subtotal=subtotal,
                total=total,
                currency=twint.CURRENCY,
                language=current_language(),
                created_at=now,
                updated_at=now,
            )
            .returning(order_t.c.id)
        )
        assert isinstance(order_id, int)
        number = str(ORDER_NUMBER_OFFSET + order_id)
        await connection.execute(update(order_t).where(order_t.c.id == order_id).values(number=number))
        await connection.execute(
            insert(order_line_t),
            [
                {
                    "order_id": order_id,
                    "variant_id": variant_id,
                    "sku": snapshot.variants[variant_id].sku,
                    "product_name": snapshot.products[snapshot.variants[variant_id].product_id].name,
                    "variant_label": snapshot.variants[variant_id].label,
                    "unit_price": snapshot.variants[variant_id].price,
                    "quantity": quantity,
                    "vat_class": snapshot.variants[variant_id].vat_class.value,
                    "vat_rate": str(vat_rate(snapshot.variants[variant_id].vat_class, on)),
                }
                for variant_id, quantity in lines
            ],
        )
        await record_event(connection, order_id, "placed", Source.CHECKOUT, detail="stock reserved")
    return PlacedOrder(id=order_id, number=number, public_token=public_token, total=total)


def _item_name(snapshot: CatalogSnapshot, variant_id: int) -> str:
    variant = snapshot.variants.get(variant_id)
    product = snapshot.products.get(variant.product_id) if variant else None
    if variant is None or product is None:
        return f"#{variant_id}"  # gone from the catalogue; the cart page marks its line
    return f"{product.name} ({variant.label})" if variant.label else product.name


async def _open_order_for(
    connection: DbConnection,
    cart_hash: str,
    lines: Sequence[tuple[int, int]],
    shipping: ShippingMethod,
    customer: Customer,
) -> PlacedOrder | None:
    """The cart's unpaid order, if it is for exactly these lines and this delivery: the same order
    (and so the same payment) for a second submit; otherwise the old one is cancelled and its
    stock released, so a changed cart gets a new order."""
    placed = None
    for order in (await connection.execute(_OPEN_ORDERS, {"token_hash": cart_hash})).all():
        ordered = sorted(
            (row.variant_id, row.quantity) for row in await connection.execute(ORDER_LINES, {"order": order.id})
        )
        if placed is None and ordered == sorted(lines) and order.shipping_method == shipping.code:
            await connection.execute(
                update(order_t)
                .where(order_t.c.id == order.id)
                .values(**asdict(customer), updated_at=dt.datetime.now(dt.UTC))
            )
            placed = PlacedOrder(order.id, order.number, order.public_token, order.total)
            continue
        await cancel_unpaid(connection, order.id, Source.CHECKOUT, detail="the cart changed; a new order replaces it")
    return placed
