"""Figures for the accountant: the VAT summary of a month or quarter and its orders as CSV.

Sales count in the period of the order's date in Switzerland (a TWINT payment follows within
minutes), each order with the VAT its receipt showed; refunds count in the period in which Stripe
paid them out, with the VAT of what they gave back: the rates of the refunded items (and of the
delivery fee), or, for a refund of an amount, each rate's share of the order. Money that came in
twice and went back is no sale at all and appears nowhere (docs/swiss.md, "VAT figures")."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, select

from storefront.db import Database
from storefront.money import SWISS_TIME, VatClass, vat_in_gross, vat_rate
from storefront.money import plain_chf as chf
from storefront.orders.models import OrderStatus, RefundStatus
from storefront.orders.refunds import refund_line_t
from storefront.orders.views import order_line_t, order_t, payment_t, refund_t

_PERIOD = re.compile(r"(?P<year>\d{4})-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2]))")


class PeriodError(ValueError):
    """Not a period such as 2026-Q4 or 2026-11."""


@dataclass(frozen=True, slots=True)
class Period:
    name: str  # 2026-Q4 or 2026-11
    start: dt.date
    end: dt.date  # the first day after it

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.fullmatch(text.strip())
        if match is None:
            raise PeriodError(text)
        year = int(match["year"])
        first_month = (int(match["quarter"]) - 1) * 3 + 1 if match["quarter"] else int(match["month"])
        months = 3 if match["quarter"] else 1
        start = dt.date(year, first_month, 1)
        after = first_month + months
        end = dt.date(year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
        return cls(match.group(0), start, end)

    @classmethod
    def quarter_of(cls, day: dt.date) -> Period:
        return cls.parse(f"{day.year}-Q{(day.month - 1) // 3 + 1}")

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The period's first instant and the first after it: Swiss midnights, in UTC."""
        start, end = (
            dt.datetime.combine(day, dt.time(), SWISS_TIME).astimezone(dt.UTC) for day in (self.start, self.end)
        )
        return start, end


@dataclass
class RateFigures:
    rate: Decimal
    sales: int = 0  # gross, incl. VAT
    sales_vat: int = 0
    refunds: int = 0  # gross, given back in the period
    refunds_vat: int = 0

    @property
    def net(self) -> int:
        return self.sales - self.refunds

    @property
    def net_vat(self) -> int:
        return self.sales_vat - self.refunds_vat


@dataclass
class VatSummary:
    period: Period
    rates: list[RateFigures]
    orders: int
    refunds: int
    delivery: int = 0  # the delivery fees among the sales, gross
    delivery_vat: int = 0
    totals: RateFigures = field(default_factory=lambda: RateFigures(Decimal(0)))


_PAID_ORDERS = (
    select(order_t.c.id, order_t.c.created_at, order_t.c.shipping_price, order_t.c.total)
    .where(
        order_t.c.status == OrderStatus.PAID.value,
        order_t.c.created_at >= bindparam("start"),
        order_t.c.created_at < bindparam("end"),
    )
    .order_by(order_t.c.id)
)
_LINES = select(
    order_line_t.c.id,
    order_line_t.c.order_id,
    order_line_t.c.unit_price,
    order_line_t.c.quantity,
    order_line_t.c.vat_rate,
).where(order_line_t.c.order_id.in_(bindparam("orders", expanding=True)))
_REFUNDS_PAID_OUT = (
    select(refund_t.c.id, refund_t.c.amount, payment_t.c.order_id, order_t.c.created_at, order_t.c.shipping_price)
    .join(payment_t, payment_t.c.id == refund_t.c.payment_id)
    .join(order_t, order_t.c.id == payment_t.c.order_id)
    .where(
        refund_t.c.status == RefundStatus.SUCCEEDED.value,
        payment_t.c.due_back.is_(False),
        refund_t.c.paid_out_at >= bindparam("start"),
        refund_t.c.paid_out_at < bindparam("end"),
    )
    .order_by(refund_t.c.id)
)
_REFUND_LINES = (
    select(refund_line_t.c.refund, refund_line_t.c.quantity, order_line_t.c.unit_price, order_line_t.c.vat_rate)
    .join(order_line_t, order_line_t.c.id == refund_line_t.c.order_line_id)
    .where(refund_line_t.c.refund.in_(bindparam("refunds", expanding=True)))
)


def _order_gross(lines: Iterable[tuple[int, Decimal]], delivery: int, ordered: dt.datetime) -> dict[Decimal, int]:
    """Gross per rate of one order, the delivery fee at the standard rate of the order's date."""
    gross: dict[Decimal, int] = defaultdict(int)
    for amount, rate in lines:
        gross[rate] += amount
    if delivery:
        gross[vat_rate(VatClass.STANDARD, ordered.astimezone(SWISS_TIME).date())] += delivery
    return gross


def _share(amount: int, weights: dict[Decimal, int]) -> dict[Decimal, int]:
    """`amount` split in proportion to `weights`, to the Rappen, adding up exactly (largest remainder)."""
    total = sum(weights.values())
    if total <= 0:
        return {}
    exact = {rate: amount * weight for rate, weight in weights.items()}
    shares = {rate: value // total for rate, value in exact.items()}
    left = amount - sum(shares.values())
    for rate in sorted(exact, key=lambda r: (exact[r] % total, r), reverse=True)[:left]:
        shares[rate] += 1
    return shares


async def vat_summary(database: Database, period: Period) -> VatSummary:
    start, end = period.bounds()
    figures: dict[Decimal, RateFigures] = {}

    def at(rate: Decimal) -> RateFigures:
        return figures.setdefault(rate, RateFigures(rate))

    async with database.read() as connection:
        orders = (await connection.execute(_PAID_ORDERS, {"start": start, "end": end})).all()
        ids = [order.id for order in orders]
        lines = (await connection.execute(_LINES, {"orders": ids})).all() if ids else []
        refunds = (await connection.execute(_REFUNDS_PAID_OUT, {"start": start, "end": end})).all()
        refund_ids = [refund.id for refund in refunds]
        refunded_lines = (await connection.execute(_REFUND_LINES, {"refunds": refund_ids})).all() if refund_ids else []
        refunded_orders = sorted({refund.order_id for refund in refunds})
        lines_of_refunded = (
            (await connection.execute(_LINES, {"orders": refunded_orders})).all() if refunded_orders else []
        )
    summary = VatSummary(period=period, rates=[], orders=len(orders), refunds=len(refunds))
    by_order: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for line in lines:
        by_order[line.order_id].append((line.unit_price * line.quantity, Decimal(line.vat_rate)))
    for order in orders:
        for rate, gross in _order_gross(by_order[order.id], order.shipping_price, order.created_at).items():
            at(rate).sales += gross
            at(rate).sales_vat += vat_in_gross(gross, rate)  # as the order's receipt showed it
        summary.delivery += order.shipping_price
    if summary.delivery:
        standard = vat_rate(VatClass.STANDARD, period.start)
        summary.delivery_vat = vat_in_gross(summary.delivery, standard)
    refunded_by_refund: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for given in refunded_lines:
        refunded_by_refund[given.refund].append((given.unit_price * given.quantity, Decimal(given.vat_rate)))
    lines_by_order: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for line in lines_of_refunded:
        lines_by_order[line.order_id].append((line.unit_price * line.quantity, Decimal(line.vat_rate)))
    for refund in refunds:
        goods = refunded_by_refund.get(refund.id)
        if goods:  # items given back, and the delivery fee if the refund is more than they
            given_back = _order_gross(goods, 0, refund.created_at)
            rest = refund.amount - sum(given_back.values())
            if rest > 0:
                standard = vat_rate(VatClass.STANDARD, refund.created_at.astimezone(SWISS_TIME).date())
                given_back[standard] = given_back.get(standard, 0) + rest
        else:  # an amount: each rate's share of the order
            order_gross = _order_gross(lines_by_order[refund.order_id], refund.shipping_price, refund.created_at)
            given_back = _share(refund.amount, order_gross)
        for rate, gross in given_back.items():
            at(rate).refunds += gross
            at(rate).refunds_vat += vat_in_gross(gross, rate)
    summary.rates = [figures[rate] for rate in sorted(figures, reverse=True)]
    for figure in summary.rates:
        summary.totals.sales += figure.sales
        summary.totals.sales_vat += figure.sales_vat
        summary.totals.refunds += figure.refunds
        summary.totals.refunds_vat += figure.refunds_vat
    return summary


def vat_summary_csv(summary: VatSummary) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "period",
            "vat_rate",
            "sales_incl_vat",
            "vat_in_sales",
            "refunds_incl_vat",
            "vat_in_refunds",
            "net_incl_vat",
            "net_vat",
        ]
    )
    for figure in [*summary.rates, summary.totals]:
        writer.writerow(
            [
                summary.period.name,
                f"{figure.rate.normalize():f}" if figure is not summary.totals else "total",
                chf(figure.sales),
                chf(figure.sales_vat),
                chf(figure.refunds),
                chf(figure.refunds_vat),
                chf(figure.net),
                chf(figure.net_vat),
            ]
        )
    writer.writerow([summary.period.name, "of which delivery fees", chf(summary.delivery), chf(summary.delivery_vat)])
    return out.getvalue()


_PERIOD_ORDERS = (
    select(
        order_t.c.id,
        order_t.c.number,
        order_t.c.created_at,
        order_t.c.status,
        order_t.c.shipping_method,
        order_t.c.shipping_price,
    )
    .where(order_t.c.created_at >= bindparam("start"), order_t.c.created_at < bindparam("end"))
    .order_by(order_t.c.id)
)
_ORDER_LINES = (
    select(
        order_line_t.c.order_id,
        order_line_t.c.sku,
        order_line_t.c.product_name,
        order_line_t.c.variant_label,
        order_line_t.c.quantity,
        order_line_t.c.unit_price,
        order_line_t.c.vat_rate,
    )
    .where(order_line_t.c.order_id.in_(bindparam("orders", expanding=True)))
    .order_by(order_line_t.c.id)
)
_PAYMENTS_OF = select(payment_t.c.id, payment_t.c.order_id, payment_t.c.intent_id, payment_t.c.status).where(
    payment_t.c.order_id.in_(bindparam("orders", expanding=True))
)
_REFUNDS_OF = (
    select(payment_t.c.order_id, refund_t.c.refund_id, refund_t.c.status)
    .join(payment_t, payment_t.c.id == refund_t.c.payment_id)
    .where(payment_t.c.order_id.in_(bindparam("orders", expanding=True)), refund_t.c.refund_id.is_not(None))
)


async def orders_csv(database: Database, period: Period) -> str:
    """Every order placed in the period, one row per line and one for its delivery fee, with the
    line's VAT (the order's VAT per rate is computed on the sum of its lines, so lines may differ
    from it by a Rappen), its payments and its refunds."""
    start, end = period.bounds()
    async with database.read() as connection:
        orders = (await connection.execute(_PERIOD_ORDERS, {"start": start, "end": end})).all()
        ids = [order.id for order in orders]
        lines = (await connection.execute(_ORDER_LINES, {"orders": ids})).all() if ids else []
        payments = (await connection.execute(_PAYMENTS_OF, {"orders": ids})).all() if ids else []
        refunds = (await connection.execute(_REFUNDS_OF, {"orders": ids})).all() if ids else []
    lines_of: dict[int, list[tuple[str, str, int, int, Decimal]]] = defaultdict(list)
    for line in lines:
        name = f"{line.product_name} ({line.variant_label})" if line.variant_label else line.product_name
        lines_of[line.order_id].append((line.sku, name, line.quantity, line.unit_price, Decimal(line.vat_rate)))
    paid_with: dict[int, list[str]] = defaultdict(list)
    for payment in payments:
        paid_with[payment.order_id].append(f"{payment.intent_id} ({payment.status})")
    refunded_by: dict[int, list[str]] = defaultdict(list)
    for refund in refunds:
        refunded_by[refund.order_id].append(f"{refund.refund_id} ({refund.status})")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "order",
            "date",
            "status",
            "sku",
            "item",
            "quantity",
            "unit_price",
            "line_total",
            "vat_rate",
            "vat",
            "payments",
            "refunds",
        ]
    )
    for order in orders:
        day = order.created_at.astimezone(SWISS_TIME).date()
        rows = list(lines_of[order.id])
        if order.shipping_price:
            rows.append(("DELIVERY", order.shipping_method, 1, order.shipping_price, vat_rate(VatClass.STANDARD, day)))
        for sku, name, quantity, unit_price, rate in rows:
            total = unit_price * quantity
            writer.writerow(
                [
                    order.number,
                    day.isoformat(),
                    order.status,
                    sku,
                    name,
                    quantity,
                    chf(unit_price),
                    chf(total),
                    f"{rate.normalize():f}",
                    chf(vat_in_gross(total, rate)),
                    " ".join(paid_with[order.id]),
                    " ".join(refunded_by[order.id]),
                ]
            )
    return out.getvalue()
