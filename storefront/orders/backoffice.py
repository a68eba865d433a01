"""Orders as the back office reads them: the list by tab (what to ship, what waits for payment,
what needs attention…) with counts, search and pages, and one order with everything that
happened to it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
    union,
    union_all,
)

from storefront.db import Database
from storefront.money import VatLine
from storefront.orders.emails import outbox_t
from storefront.orders.models import UNPAID, Fulfilment, OrderStatus, PaymentStatus, RefundStatus
from storefront.orders.refunds import REFUND_WINDOW, lines_refunded
from storefront.orders.timeline import TimelineEntry, read_timeline
from storefront.orders.views import order_line_t, order_t, order_vat, payment_t, refund_t

PAGE_SIZE = 25


class Tab(StrEnum):
    TO_SHIP = "to-ship"
    WAITING = "waiting"
    ATTENTION = "attention"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    ALL = "all"


def _one_of(column: ColumnElement[str], *values: str) -> ColumnElement[bool]:
    """`column IN (…)` written out as ORs of equalities: the same plan, and no list parameter that
    SQLAlchemy must expand on every execution of a statement read on every visit."""
    return or_(*(column == value for value in values))


_PAID = order_t.c.status == OrderStatus.PAID.value
_OPEN = _one_of(order_t.c.fulfilment, Fulfilment.OPEN.value, Fulfilment.READY_FOR_PICKUP.value)
_HANDED_OVER = _one_of(order_t.c.fulfilment, Fulfilment.SHIPPED.value, Fulfilment.PICKED_UP.value)


def needs_attention(among: BindParameter[Any] | None = None) -> CompoundSelect[Any]:
    """Orders with money due back, a refund Stripe failed to pay out, or an e-mail that could not
    be sent (each found through an index: such rows are few); with `among`, only those orders."""
    due = select(payment_t.c.order_id).where(payment_t.c.status == PaymentStatus.REFUND_DUE.value)
    failed = (
        select(payment_t.c.order_id)
        .join(refund_t, refund_t.c.payment_id == payment_t.c.id)
        .where(refund_t.c.status == RefundStatus.FAILED.value)
    )
    unsent = select(outbox_t.c.order_id).where(
        outbox_t.c.order_id.is_not(None), outbox_t.c.sent_at.is_(None), outbox_t.c.last_error.is_not(None)
    )
    if among is not None:
        due = due.where(payment_t.c.order_id.in_(among))
        failed = failed.where(payment_t.c.order_id.in_(among))
        unsent = unsent.where(outbox_t.c.order_id.in_(among))
    return union(due, failed, unsent)


_ATTENTION = needs_attention().subquery()
_ATTENTION_IDS = select(_ATTENTION.c.order_id)
_ATTENTION_AMONG = needs_attention(bindparam("among", expanding=True))


def tab_filter(tab: Tab) -> ColumnElement[bool]:
    match tab:
        case Tab.TO_SHIP:
            return and_(_PAID, _OPEN)
        case Tab.WAITING:
            return _one_of(order_t.c.status, *sorted(status.value for status in UNPAID))
        case Tab.ATTENTION:
            return order_t.c.id.in_(_ATTENTION_IDS)
        case Tab.SHIPPED:
            return and_(_PAID, _HANDED_OVER)
        case Tab.CANCELLED:
            return order_t.c.status == OrderStatus.CANCELLED.value
        case Tab.ALL:
            return true()


def _search(query: str) -> ColumnElement[bool]:
    words = query.strip().lower()
    number = words.lstrip("#")
    conditions = [
        func.lower(order_t.c.name).contains(words, autoescape=True),
        func.lower(order_t.c.email).contains(words, autoescape=True),
    ]
    if number.isdigit():
        conditions.append(order_t.c.number == number)
    return or_(*conditions)


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: int
    number: str
    created_at: dt.datetime
    name: str
    email: str
    total: int
    status: OrderStatus
    fulfilment: Fulfilment
    shipping_method: str
    needs_attention: bool


@dataclass(frozen=True, slots=True)
class OrderList:
    tab: Tab
    query: str
    page: int
    rows: list[OrderRow]
    counts: dict[Tab, int]  # of the tabs that ask for something to be done (see _COUNTS)
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _count(where: ColumnElement[bool]) -> ScalarSelect[int]:
    return select(func.count()).select_from(order_t).where(where).scalar_subquery()


# Only the tabs that ask for something to be done show how many orders they hold. Each of those
# counts reads one short range of an index; a count of the shipped, the cancelled or all orders
# would read the shop's whole history on every visit (measured with 10,000 orders on SQLite:
# 260 µs for the counts with those, of a page's 4 ms).
_COUNTS = select(
    _count(tab_filter(Tab.TO_SHIP)).label("to_ship"),
    _count(tab_filter(Tab.WAITING)).label("waiting"),
    select(func.count()).select_from(_ATTENTION).scalar_subquery().label("attention"),
)
_LIST_COLUMNS = (
    order_t.c.id,
    order_t.c.number,
    order_t.c.created_at,
    order_t.c.name,
    order_t.c.email,
    order_t.c.total,
    order_t.c.status,
    order_t.c.fulfilment,
    order_t.c.shipping_method,
)


# Tabs that are a few (status, fulfilment) pairs. Each pair is one range of the index on
# (status, fulfilment, id), already newest first, so a page reads a page of each range instead of
# every order in the tab (thousands shipped, hundreds to ship) sorted anew.
_PAIRS = {
    Tab.TO_SHIP: [(OrderStatus.PAID, Fulfilment.OPEN), (OrderStatus.PAID, Fulfilment.READY_FOR_PICKUP)],
    Tab.SHIPPED: [(OrderStatus.PAID, Fulfilment.SHIPPED), (OrderStatus.PAID, Fulfilment.PICKED_UP)],
}


def _listing(tab: Tab, search: ColumnElement[bool] | None = None) -> Select[Any]:
    """A page of the tab, newest first; `skip` orders are skipped, `upto` is skip + a page + 1."""
    pairs = _PAIRS.get(tab)
    if pairs is None:
        listing = select(*_LIST_COLUMNS).where(tab_filter(tab))
        if search is not None:
            listing = listing.where(search)
        return listing.order_by(order_t.c.id.desc()).limit(PAGE_SIZE + 1).offset(bindparam("skip"))
    ranges = []
    for status, fulfilment in pairs:
        one = select(*_LIST_COLUMNS).where(order_t.c.status == status.value, order_t.c.fulfilment == fulfilment.value)
        if search is not None:
            one = one.where(search)
        newest = one.order_by(order_t.c.id.desc()).limit(bindparam("upto")).subquery()
        ranges.append(select(*newest.c))
    merged = union_all(*ranges).subquery()
    return select(*merged.c).order_by(merged.c.id.desc()).limit(PAGE_SIZE + 1).offset(bindparam("skip"))


_LISTINGS = {tab: _listing(tab) for tab in Tab}  # built once: the list is read on every visit


async def list_orders(database: Database, tab: Tab, query: str = "", page: int = 1) -> OrderList:
    """Newest first, a page at a time; the counts are the whole tab's, whatever the search."""
    listing = _listing(tab, _search(query)) if query.strip() else _LISTINGS[tab]
    async with database.read() as connection:
        skip = (page - 1) * PAGE_SIZE
        found = (await connection.execute(listing, {"skip": skip, "upto": skip + PAGE_SIZE + 1})).all()
        counted = (await connection.execute(_COUNTS)).one()
        ids = [row.id for row in found[:PAGE_SIZE]]
        flagged = (
            set((await connection.execute(_ATTENTION_AMONG, {"among": ids})).scalars())
            if ids and counted.attention
            else set()
        )
    counts = {Tab.TO_SHIP: counted.to_ship, Tab.WAITING: counted.waiting, Tab.ATTENTION: counted.attention}
    rows = [
        OrderRow(
            id=row.id,
            number=row.number,
            created_at=row.created_at,
            name=row.name,
            email=row.email,
            total=row.total,
            status=OrderStatus(row.status),
            fulfilment=Fulfilment(row.fulfilment),
            shipping_method=row.shipping_method,
            needs_attention=row.id in flagged,
        )
        for row in found[:PAGE_SIZE]
    ]
    return OrderList(tab, query.strip(), page, rows, counts, has_next=len(found) > PAGE_SIZE)


# --- one order ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineDetail:
    id: int
    sku: str
    product_name: str
    variant_label: str
    unit_price: int
    quantity: int
    vat_rate: str
    refunded: int  # units a refund covers

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def refundable(self) -> int:
        return self.quantity - self.refunded


@dataclass(frozen=True, slots=True)
class RefundDetail:
    id: int
    refund_id: str | None
    amount: int
    status: RefundStatus
    reason: str
    requested_by: str
    failure_reason: str | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PaymentDetail:
    id: int
    intent_id: str
    amount: int
    status: PaymentStatus
    created_at: dt.datetime
    error: str | None
    refunds: list[RefundDetail]

    @property
    def left_to_refund(self) -> int:
        counting = (RefundStatus.REQUESTED, RefundStatus.PENDING, RefundStatus.SUCCEEDED)
        return self.amount - sum(refund.amount for refund in self.refunds if refund.status in counting)

    @property
    def refund_deadline(self) -> dt.datetime:
        return self.created_at + REFUND_WINDOW

    @property
    def refundable(self) -> bool:
        return (
            self.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUND_DUE)
            and self.left_to_refund > 0
            and dt.datetime.now(dt.UTC) <= self.refund_deadline
        )


@dataclass(frozen=True, slots=True)
class OrderDetail:
    id: int
    number: str
    status: OrderStatus
    fulfilment: Fulfilment
    tracking_number: str | None
    created_at: dt.datetime
    email: str
    name: str
    phone: str | None
    street: str
    postal_code: str
    city: str
    country: str
    language: str
    shipping_method: str
    shipping_price: int
    subtotal: int
    total: int
    lines: list[LineDetail]
    payments: list[PaymentDetail]
    vat_lines: list[VatLine]
    timeline: list[TimelineEntry]

    @property
    def paying_payment(self) -> PaymentDetail | None:
        """The payment that paid the order (refunds for goods come from it)."""
        paid = [p for p in self.payments if p.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)]
        return paid[-1] if paid else None

    @property
    def due_back(self) -> list[PaymentDetail]:
        return [p for p in self.payments if p.status == PaymentStatus.REFUND_DUE and p.left_to_refund > 0]

    @property
    def refunded(self) -> int:
        return sum(r.amount for p in self.payments for r in p.refunds if r.status == RefundStatus.SUCCEEDED)

    @property
    def unpaid(self) -> bool:
        return self.status in UNPAID


_ORDER = select(order_t).where(order_t.c.number == bindparam("number"))
_LINES = (
    select(
        order_line_t.c.id,
        order_line_t.c.sku,
        order_line_t.c.product_name,
        order_line_t.c.variant_label,
        order_line_t.c.unit_price,
        order_line_t.c.quantity,
        order_line_t.c.vat_rate,
        order_line_t.c.vat_class,
    )
    .where(order_line_t.c.order_id == bindparam("order"))
    .order_by(order_line_t.c.id)
)
_PAYMENTS = select(payment_t).where(payment_t.c.order_id == bindparam("order")).order_by(payment_t.c.id)
_REFUNDS = (
    select(refund_t)
    .join(payment_t, payment_t.c.id == refund_t.c.payment_id)
    .where(payment_t.c.order_id == bindparam("order"))
    .order_by(refund_t.c.id)
)


async def order_detail(database: Database, number: str, owner_address: str) -> OrderDetail | None:
    async with database.read() as connection:
        order = (await connection.execute(_ORDER, {"number": number})).one_or_none()
        if order is None:
            return None
        lines = (await connection.execute(_LINES, {"order": order.id})).all()
        payments = (await connection.execute(_PAYMENTS, {"order": order.id})).all()
        refunds = (await connection.execute(_REFUNDS, {"order": order.id})).all()
        refunded_units = await lines_refunded(connection, order.id)
    timeline = await read_timeline(database, order.id, owner_address)
    refund_details: dict[int, list[RefundDetail]] = {}
    for refund in refunds:
        refund_details.setdefault(refund.payment_id, []).append(
            RefundDetail(
                id=refund.id,
                refund_id=refund.refund_id,
                amount=refund.amount,
                status=RefundStatus(refund.status),
                reason=refund.reason,
                requested_by=refund.requested_by,
                failure_reason=refund.failure_reason,
                created_at=refund.created_at,
            )
        )
    return OrderDetail(
        id=order.id,
        number=order.number,
        status=OrderStatus(order.status),
        fulfilment=Fulfilment(order.fulfilment),
        tracking_number=order.tracking_number,
        created_at=order.created_at,
        email=order.email,
        name=order.name,
        phone=order.phone,
        street=order.street,
        postal_code=order.postal_code,
        city=order.city,
        country=order.country,
        language=order.language,
        shipping_method=order.shipping_method,
        shipping_price=order.shipping_price,
        subtotal=order.subtotal,
        total=order.total,
        lines=[
            LineDetail(
                id=line.id,
                sku=line.sku,
                product_name=line.product_name,
                variant_label=line.variant_label,
                unit_price=line.unit_price,
                quantity=line.quantity,
                vat_rate=line.vat_rate,
                refunded=refunded_units.get(line.id, 0),
            )
            for line in lines
        ],
        payments=[
            PaymentDetail(
                id=payment.id,
                intent_id=payment.intent_id,
                amount=payment.amount,
                status=PaymentStatus(payment.status),
                created_at=payment.created_at,
                error=payment.last_error_message,
                refunds=refund_details.get(payment.id, []),
            )
            for payment in payments
        ],
        vat_lines=order_vat(
            ((line.unit_price * line.quantity, line.vat_class) for line in lines),
            order.shipping_price,
            order.created_at.date(),
        ),
        timeline=timeline,
    )
