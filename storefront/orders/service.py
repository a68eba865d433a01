"""Placing an order: one transaction that snapshots the cart's lines, reserves their stock with a
conditional update (all lines or none) and records the order, before anyone talks to Stripe."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import asdict, dataclass

from sqlalchemy import bindparam, insert, or_, select, update

from storefront.cart.models import Cart, CartLine
from storefront.cart.service import hash_token
from storefront.catalog.models import VatClass
from storefront.catalog.service import Catalog, CatalogSnapshot, variant_t
from storefront.checkout.shipping import ShippingMethod, shipping_price
from storefront.db import Database, DbConnection
from storefront.i18n import current_language
from storefront.money import VatLine, vat_breakdown, vat_rate
from storefront.orders.models import FINAL, Order, OrderLine, OrderStatus
from storefront.payments.gateway import TWINT_MAX

order_t = Order.__table__
order_line_t = OrderLine.__table__
cart_t = Cart.__table__
cart_line_t = CartLine.__table__

TWINT_MIN = 50  # CHF 0.50, Stripe's least CHF charge
ORDER_NUMBER_OFFSET = 1000  # the first order is number 1001


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
_OPEN_ORDER = (
    select(order_t.c.id, order_t.c.number, order_t.c.public_token, order_t.c.total, order_t.c.shipping_method)
    .where(
        order_t.c.cart_token_hash == bindparam("token_hash"),
        order_t.c.status.in_([OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAYMENT_FAILED.value]),
    )
    .order_by(order_t.c.id.desc())
)
_CART_LINES = (
    select(cart_line_t.c.variant_id, cart_line_t.c.quantity)
    .join(cart_t, cart_t.c.id == cart_line_t.c.cart_id)
    .where(cart_t.c.token_hash == bindparam("token_hash"))
    .order_by(cart_line_t.c.id)
)
# The reservation itself: it takes units only while there are enough, so stock never goes below 0
# however many customers buy the last unit at once (reference/litestar-htmx.md §4).
_RESERVE = (
    update(variant_t)
    .where(variant_t.c.id == bindparam("variant"), variant_t.c.stock >= bindparam("units"))
    .values(stock=variant_t.c.stock - bindparam("units"))
)
_RELEASE = (
    update(variant_t).where(variant_t.c.id == bindparam("variant")).values(stock=variant_t.c.stock + bindparam("units"))
)
_ORDER_LINES = select(order_line_t.c.variant_id, order_line_t.c.quantity).where(
    order_line_t.c.order_id == bindparam("order")
)


async def place_order(
    database: Database,
    catalog: Catalog,
    cart_token: str,
    customer: Customer,
    shipping: ShippingMethod,
    on: dt.date,
    free_shipping_from: int = 100_00,
) -> PlacedOrder:
    """Reserve the cart's stock and record a pending order; the cart itself stays until it is paid."""
    token_hash = hash_token(cart_token)
    async with database.write() as connection:
        # One checkout per cart at a time: a double click or a second tab waits here (PostgreSQL
        # row lock; SQLite's writer lock), then finds the order the first one placed.
        await connection.execute(_LOCK_CART, {"token_hash": token_hash})
        snapshot = await catalog.current(connection)
        lines = (await connection.execute(_CART_LINES, {"token_hash": token_hash})).all()
        if not lines:
            raise OrderRefused("empty")
        existing = await _open_order_for(connection, token_hash, lines, shipping, customer)
        if existing is not None:
            return existing
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
        if total > TWINT_MAX:
            raise OrderRefused("above_twint_limit")
        if total < TWINT_MIN:
            raise OrderRefused("below_twint_limit")
        sold_out = []
        for variant_id, quantity in lines:
            result = await connection.execute(_RESERVE, {"variant": variant_id, "units": quantity})
            if result.rowcount != 1:
                sold_out.append(_item_name(snapshot, variant_id))
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
                cart_token_hash=token_hash,
                **asdict(customer),
                shipping_method=shipping.code,
                shipping_price=shipping_cost,
                subtotal=subtotal,
                total=total,
                currency="chf",
                language=current_language(),
                payment_attempt=1,
                needs_refund=False,
                created_at=now,
                updated_at=now,
            )
            .returning(order_t.c.id)
        )
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
    return PlacedOrder(id=order_id, number=number, public_token=public_token, total=total)


def _item_name(snapshot: CatalogSnapshot, variant_id: int) -> str:
    variant = snapshot.variants.get(variant_id)
    product = snapshot.products.get(variant.product_id) if variant else None
    if variant is None or product is None:
        return f"#{variant_id}"  # gone from the catalogue; the cart page marks its line
    return f"{product.name} ({variant.label})" if variant.label else product.name


async def _open_order_for(
    connection: DbConnection, token_hash: str, lines: list, shipping: ShippingMethod, customer: Customer
) -> PlacedOrder | None:
    """The cart's unpaid order, if it is for exactly these lines and this delivery: the same order
    (and so the same PaymentIntent) for a second submit; otherwise the old one is cancelled and its
    stock released, so a changed cart gets a new order."""
    placed = None
    for order in (await connection.execute(_OPEN_ORDER, {"token_hash": token_hash})).all():
        ordered = sorted((await connection.execute(_ORDER_LINES, {"order": order.id})).all())
        if placed is None and ordered == sorted(lines) and order.shipping_method == shipping.code:
            await connection.execute(
                update(order_t)
                .where(order_t.c.id == order.id)
                .values(**asdict(customer), updated_at=dt.datetime.now(dt.UTC))
            )
            placed = PlacedOrder(order.id, order.number, order.public_token, order.total)
            continue
        await release_stock(connection, order.id)
        await connection.execute(
            update(order_t)
            .where(order_t.c.id == order.id)
            .values(status=OrderStatus.CANCELLED.value, updated_at=dt.datetime.now(dt.UTC))
        )
    return placed


async def record_payment_intent(database: Database, order_id: int, intent_id: str, client_secret: str = "") -> None:
    """Remember the order's PaymentIntent (unique: one intent never pays two orders)."""
    async with database.write() as connection:
        await connection.execute(
            update(order_t)
            .where(order_t.c.id == order_id)
            .values(
                payment_intent_id=intent_id,
                client_secret_hash=secret_hash(client_secret) if client_secret else None,
                updated_at=dt.datetime.now(dt.UTC),
            )
        )


def secret_hash(client_secret: str) -> str:
    return hashlib.sha256(client_secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    number: str
    public_token: str
    status: OrderStatus
    email: str
    name: str
    phone: str | None
    street: str
    postal_code: str
    city: str
    country: str
    shipping_method: str
    shipping_price: int
    subtotal: int
    total: int
    payment_intent_id: str | None
    client_secret_hash: str | None
    payment_attempt: int
    created_at: dt.datetime
    lines: tuple[OrderLineView, ...]

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def vat_lines(self) -> list[VatLine]:
        """VAT per rate as it was on the order date, shipping at the standard rate."""
        on = self.created_at.date()
        items = [(line.unit_price * line.quantity, line.vat_class) for line in self.lines]
        if self.shipping_price:
            items.append((self.shipping_price, VatClass.STANDARD))
        return vat_breakdown(items, on)


@dataclass(frozen=True, slots=True)
class OrderLineView:
    sku: str
    product_name: str
    variant_label: str
    unit_price: int
    quantity: int
    vat_class: str

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity


_ORDER_FIELDS = [c for c in order_t.c if c.name in OrderView.__dataclass_fields__ and c.name != "status"]
_BY_TOKEN = select(*_ORDER_FIELDS, order_t.c.status).where(order_t.c.public_token == bindparam("token"))
_BY_INTENT = select(*_ORDER_FIELDS, order_t.c.status).where(order_t.c.payment_intent_id == bindparam("intent"))
_BY_ID = select(*_ORDER_FIELDS, order_t.c.status).where(order_t.c.id == bindparam("order"))
_LINES = (
    select(
        order_line_t.c.sku,
        order_line_t.c.product_name,
        order_line_t.c.variant_label,
        order_line_t.c.unit_price,
        order_line_t.c.quantity,
        order_line_t.c.vat_class,
    )
    .where(order_line_t.c.order_id == bindparam("order"))
    .order_by(order_line_t.c.id)
)
_CLAIM_SYNC = (
    update(order_t)
    .where(
        order_t.c.id == bindparam("order"),
        or_(order_t.c.synced_at.is_(None), order_t.c.synced_at < bindparam("stale_before")),
    )
    .values(synced_at=bindparam("now"))
)


async def find_order(
    database: Database, *, token: str | None = None, intent_id: str | None = None, order_id: int | None = None
) -> OrderView | None:
    """An order by its public token, its PaymentIntent or its id."""
    if token is not None:
        statement, parameters = _BY_TOKEN, {"token": token}
    elif intent_id is not None:
        statement, parameters = _BY_INTENT, {"intent": intent_id}
    else:
        statement, parameters = _BY_ID, {"order": order_id}
    async with database.read() as connection:
        row = (await connection.execute(statement, parameters)).one_or_none()
        if row is None:
            return None
        lines = (await connection.execute(_LINES, {"order": row.id})).all()
    values = row._asdict()
    values["status"] = OrderStatus(values["status"])
    return OrderView(**values, lines=tuple(OrderLineView(*line) for line in lines))


async def claim_sync(database: Database, order_id: int, interval_s: float) -> bool:
    """True for exactly one caller per order per interval, across every worker and tab: that one
    may ask Stripe how the payment stands (DESIGN.md, the payment flow, step 4)."""
    now = dt.datetime.now(dt.UTC)
    async with database.write() as connection:
        claimed = await connection.execute(
            _CLAIM_SYNC, {"order": order_id, "now": now, "stale_before": now - dt.timedelta(seconds=interval_s)}
        )
    return claimed.rowcount == 1


async def release_stock(connection: DbConnection, order_id: int) -> None:
    """Give an order's units back (in the transaction that cancels it)."""
    for variant_id, quantity in (await connection.execute(_ORDER_LINES, {"order": order_id})).all():
        if variant_id is not None:
            await connection.execute(_RELEASE, {"variant": variant_id, "units": quantity})


async def reserve_again(connection: DbConnection, order_id: int) -> bool:
    """For a late success on a cancelled order: take the stock again, all lines or none."""
    taken = []
    for variant_id, quantity in (await connection.execute(_ORDER_LINES, {"order": order_id})).all():
        if variant_id is None:
            break
        result = await connection.execute(_RESERVE, {"variant": variant_id, "units": quantity})
        if result.rowcount != 1:
            break
        taken.append((variant_id, quantity))
    else:
        return True
    for variant_id, quantity in taken:
        await connection.execute(_RELEASE, {"variant": variant_id, "units": quantity})
    return False
