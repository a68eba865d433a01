"""Orders as the pages, e-mails and the reconciler read them: the order with its lines, its current
payment and what its money adds up to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    Select,
    bindparam,
    func,
    literal_column,
    select,
)

from storefront.cart.page_reads import (
    PAGE_STATE_KINDS,
    PageState,
    page_state_of,
    page_state_parameters,
    page_state_parts,
)
from storefront.catalog.service import Catalog
from storefront.db import Database, HotRead
from storefront.money import VatClass, VatLine, vat_breakdown
from storefront.orders.models import (
    FINAL,
    MONEY_IN,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from storefront.tables import table_of

order_t = table_of(Order)
order_line_t = table_of(OrderLine)
payment_t = table_of(Payment)
refund_t = table_of(Refund)


def order_vat(lines: Iterable[tuple[int, VatClass | str]], shipping_price: int, on: dt.date) -> list[VatLine]:
    """VAT per rate as it was on the order date: (gross line total, VAT class) pairs, and delivery
    at the standard rate."""
    items = list(lines)
    if shipping_price:
        items.append((shipping_price, VatClass.STANDARD))
    return vat_breakdown(items, on)


@dataclass(frozen=True, slots=True)
class PaymentView:
    id: int
    intent_id: str
    amount: int
    status: PaymentStatus
    client_secret_hash: str | None
    synced_at: dt.datetime | None


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
    created_at: dt.datetime
    lines: tuple[OrderLineView, ...]
    payments: tuple[PaymentView, ...]  # oldest first
    language: str  # the customer's language when ordering: e-mails and the return from TWINT use it
    handed_over_at: dt.datetime | None = None  # when "Pay" sent the customer to TWINT

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def payment(self) -> PaymentView | None:
        """The payment the customer pays with: the newest one waiting for them, else the newest that
        failed (it may be tried again), else the one that paid the order, else the newest."""
        for wanted in (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.SUCCEEDED):
            found = [payment for payment in self.payments if payment.status == wanted]
            if found:
                return found[-1]
        return self.payments[-1] if self.payments else None

    def vat_lines(self) -> list[VatLine]:
        return order_vat(
            ((line.total, line.vat_class) for line in self.lines), self.shipping_price, self.created_at.date()
        )


_ORDER_FIELDS = [c for c in order_t.c if c.name in OrderView.__dataclass_fields__]
_LINE_FIELDS = [order_line_t.c[name] for name in OrderLineView.__dataclass_fields__]
_PAYMENT_FIELDS = [payment_t.c[name] for name in PaymentView.__dataclass_fields__]
# The parts' kinds follow the page state's (0 to 2), so an order can be read with it.
_ORDER, _LINE, _PAYMENT = 3, 4, 5
_PARTS = ((_ORDER, "o_", _ORDER_FIELDS), (_LINE, "l_", _LINE_FIELDS), (_PAYMENT, "p_", _PAYMENT_FIELDS))


def _order_parts(key: ColumnElement[bool]) -> list[Select[Any]]:
    """An order, its lines and its payments: a row per part, each part's fields prefixed."""

    def part(kind: int, prefix: str, columns: list[Column[Any]]) -> Select[Any]:
        table = columns[0].table
        statement = select(
            literal_column(str(kind)).label("kind"),
            table.c.id.label("position"),
            *(column.label(prefix + column.name) for column in columns),
        )
        if table is not order_t:
            statement = statement.select_from(table.join(order_t, order_t.c.id == table.c.order_id))
        return statement.where(key)

    return [part(kind, prefix, columns) for kind, prefix, columns in _PARTS]


def _order_read(key: ColumnElement[bool]) -> CompoundSelect[Any]:
    """An order, its lines and its payments in one statement (one round trip instead of three)."""
    return Database.stacked(_order_parts(key)).order_by("kind", "position")


def _order_with_page_state(dialect: str) -> CompoundSelect[Any]:
    """An order by its token and the page state, in one statement: the order pages and the
    status poll read both."""
    parts = page_state_parts(dialect) + _order_parts(order_t.c.public_token == bindparam("token"))
    return Database.stacked(parts).order_by("kind", "position")


# Hot reads (compiled once, run on the driver's connection): the status poll reads its order
# every second or so for every customer waiting for TWINT.
_BY_TOKEN = HotRead("order by token", lambda _dialect: _order_read(order_t.c.public_token == bindparam("token")))
_BY_ID = HotRead("order by id", lambda _dialect: _order_read(order_t.c.id == bindparam("order")))
_BY_NUMBER = HotRead("order by number", lambda _dialect: _order_read(order_t.c.number == bindparam("number")))
_WITH_PAGE_STATE = HotRead("order by token, page state", _order_with_page_state)


def _columns(statement: CompoundSelect[Any]) -> dict[str, int]:
    return {column.name: at for at, column in enumerate(statement.selected_columns)}


_AT = _columns(_order_read(order_t.c.id == 0))
_AT_WITH_PAGE_STATE = _columns(_order_with_page_state("postgresql"))
_KIND = 0  # the first column of every part


_ORDER_OF_INTENT = select(payment_t.c.order_id).where(payment_t.c.intent_id == bindparam("intent"))


async def find_order(
    database: Database, *, token: str | None = None, order_id: int | None = None, number: str | None = None
) -> OrderView | None:
    """An order by its public token, its id or its number."""
    if token is not None:
        rows = await database.hot_rows(_BY_TOKEN, token=token)
    elif number is not None:
        rows = await database.hot_rows(_BY_NUMBER, number=number)
    else:
        rows = await database.hot_rows(_BY_ID, order=order_id)
    return _order_of(rows, _AT)


async def find_order_with_page_state(
    database: Database, catalog: Catalog, token: str, cart_token: str | None
) -> tuple[OrderView | None, PageState]:
    """An order by its public token, and the page state of a visitor with this cart (no stock
    shown), in one round trip."""
    before = catalog.snapshot
    rows = await database.hot_rows(_WITH_PAGE_STATE, token=token, **page_state_parameters(database, cart_token))
    page = [row for row in rows if row[_KIND] in PAGE_STATE_KINDS]
    order = [row for row in rows if row[_KIND] not in PAGE_STATE_KINDS]
    return _order_of(order, _AT_WITH_PAGE_STATE), await page_state_of(database, catalog, page, before)


def _order_of(rows: Sequence[Sequence[Any]], at: dict[str, int]) -> OrderView | None:
    """The order from its rows, its columns at `at`."""
    if not rows or rows[0][_KIND] != _ORDER:
        return None

    def fields(row: Sequence[Any], prefix: str, columns: list[Column[Any]]) -> dict[str, Any]:
        return {column.name: row[at[prefix + column.name]] for column in columns}

    def payment(row: Sequence[Any]) -> PaymentView:
        values = fields(row, "p_", _PAYMENT_FIELDS)
        return PaymentView(**{**values, "status": PaymentStatus(values["status"])})

    values = fields(rows[0], "o_", _ORDER_FIELDS)
    return OrderView(
        **{**values, "status": OrderStatus(values["status"])},
        lines=tuple(OrderLineView(**fields(row, "l_", _LINE_FIELDS)) for row in rows if row[_KIND] == _LINE),
        payments=tuple(payment(row) for row in rows if row[_KIND] == _PAYMENT),
    )


async def order_id_of_intent(database: Database, intent_id: str) -> int | None:
    async with database.read() as connection:
        found: int | None = await connection.scalar(_ORDER_OF_INTENT, {"intent": intent_id})
    return found


@dataclass(frozen=True, slots=True)
class OrderMoney:
    """What an order's payments and refunds add up to, in Rappen."""

    received: int  # every payment whose money came in
    refunded: int  # refunds Stripe has paid out
    refund_due: int  # money that came in but must go back, not yet refunded

    @property
    def kept(self) -> int:
        return self.received - self.refunded


_RECEIVED = select(
    func.coalesce(func.sum(payment_t.c.amount), 0).label("received"),
    func.coalesce(func.sum(payment_t.c.amount).filter(payment_t.c.status == PaymentStatus.REFUND_DUE.value), 0).label(
        "due"
    ),
).where(payment_t.c.order_id == bindparam("order"), payment_t.c.status.in_([s.value for s in MONEY_IN]))
_REFUNDED = (
    select(func.coalesce(func.sum(refund_t.c.amount), 0))
    .select_from(refund_t.join(payment_t, payment_t.c.id == refund_t.c.payment_id))
    .where(payment_t.c.order_id == bindparam("order"), refund_t.c.status == RefundStatus.SUCCEEDED.value)
)


async def order_money(database: Database, order_id: int) -> OrderMoney:
    async with database.read() as connection:
        totals = (await connection.execute(_RECEIVED, {"order": order_id})).one()
        received, due = totals.received, totals.due
        refunded = await connection.scalar(_REFUNDED, {"order": order_id})
    return OrderMoney(received=int(received), refunded=int(refunded or 0), refund_due=int(due))


_REFUND_DUE = (
    select(order_t.c.number, payment_t.c.intent_id, payment_t.c.amount)
    .select_from(payment_t.join(order_t, order_t.c.id == payment_t.c.order_id))
    .where(payment_t.c.status == PaymentStatus.REFUND_DUE.value)
    .order_by(payment_t.c.id)
)


@dataclass(frozen=True, slots=True)
class DueRefund:
    order_number: str
    intent_id: str
    amount: int


async def payments_to_refund(database: Database) -> list[DueRefund]:
    """Money that came in but that no order keeps (paid twice, or paid after the stock was gone)."""
    async with database.read() as connection:
        return [DueRefund(*row) for row in (await connection.execute(_REFUND_DUE)).all()]
