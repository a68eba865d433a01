"""The quarter's VAT figures against figures worked out by hand: sales per rate on the order's date
(8.1 % and 2.6 %, delivery fees at 8.1 %), refunds in the quarter Stripe paid them out (by item,
or an amount split over the order's rates), money paid twice never a sale; and the same orders
line by line in the orders CSV."""

import csv
import datetime as dt
import io

import pytest

from storefront.money import SWISS_TIME
from storefront.orders.accounting import Period, PeriodError, orders_csv, vat_summary, vat_summary_csv
from storefront.orders.models import RefundStatus
from storefront.orders.provider import RefundRequest, RefundState
from storefront.orders.refunds import apply_refund_state, request_refund
from storefront.orders.timeline import Source
from tests.support.db import execute, query, with_database
from tests.support.factories import order_with_second_payment, paid_order, waiting_order


class PaysOut:
    """A payment provider that accepts every refund (pending), as Stripe does."""

    def __init__(self) -> None:
        self.made: list[RefundRequest] = []

    async def create_refund(self, request: RefundRequest) -> RefundState:
        self.made.append(request)
        return RefundState(f"re_{request.idempotency_key}", request.intent_id, request.amount, RefundStatus.PENDING)


def placed_on(settings, order, day: dt.date) -> None:
    at = dt.datetime.combine(day, dt.time(10), SWISS_TIME).astimezone(dt.UTC)
    execute(settings.database_url, "UPDATE shop_order SET created_at = :at WHERE id = :id", at=at, id=order.id)


def refund(settings, order, paid_out: dt.date, **what) -> None:
    """A refund asked for in the back office and paid out by Stripe on `paid_out`."""
    provider = PaysOut()
    key = f"k{order.id}-{len(what)}-{paid_out.isoformat()}"
    with_database(
        settings,
        lambda db, _c: request_refund(db, provider, order.id, key=key, actor="owner@example.ch", reason="r", **what),
    )
    (made,) = provider.made
    paid = RefundState(f"re_{made.idempotency_key}", made.intent_id, made.amount, RefundStatus.SUCCEEDED)
    with_database(settings, lambda db, _c: apply_refund_state(db, paid, Source.WEBHOOK))
    at = dt.datetime.combine(paid_out, dt.time(15), SWISS_TIME).astimezone(dt.UTC)
    execute(settings.database_url, "UPDATE refund SET paid_out_at = :at WHERE refund_id = :id", at=at, id=paid.id)


def line_id(settings, order, sku: str) -> int:
    found: int = query(
        settings.database_url, "SELECT id FROM order_line WHERE order_id = :o AND sku = :s", o=order.id, s=sku
    )[0][0]
    return found


@pytest.fixture
def quarter_of_sales(settings):
    a = paid_order(settings, ("MUG", 2), ("HONEY-250", 1))  # 44.00 at 8.1 %, 9.50 at 2.6 %, B-Post 7.00
    placed_on(settings, a, dt.date(2026, 11, 10))
    b = paid_order(settings, ("HONEY-250", 4))  # 38.00 at 2.6 %, B-Post 7.00
    placed_on(settings, b, dt.date(2026, 12, 20))
    c = paid_order(settings, ("MUG", 1))  # 22.00 + 7.00, in the next quarter
    placed_on(settings, c, dt.date(2027, 1, 5))
    waiting = waiting_order(settings, ("MUG", 1))  # never paid: no sale
    placed_on(settings, waiting, dt.date(2026, 12, 1))
    twice = order_with_second_payment(settings, ("MUG", 1))  # 29.00 kept, 29.00 due back
    placed_on(settings, twice, dt.date(2026, 10, 15))
    due = query(settings.database_url, "SELECT id FROM payment WHERE intent_id = :i", i=f"pi_again_{twice.id}")[0][0]
    refund(settings, twice, dt.date(2026, 10, 20), payment_id=due)  # giving it back is no refund of a sale
    refund(settings, b, dt.date(2026, 12, 22), amount=10_00)  # 10.00 of an order at two rates
    refund(settings, a, dt.date(2027, 1, 10), lines={line_id(settings, a, "MUG"): 1})  # one mug, next quarter
    return a, b, c, twice


def figures(summary):
    return {
        f"{row.rate}": (row.sales, row.sales_vat, row.refunds, row.refunds_vat, row.net, row.net_vat)
        for row in summary.rates
    }


def test_the_quarter_per_rate_matches_the_figures_worked_out_by_hand(settings, quarter_of_sales):
    summary = with_database(settings, lambda db, _c: vat_summary(db, Period.parse("2026-Q4")))
    assert (summary.orders, summary.refunds) == (3, 1)
    assert figures(summary) == {
        # sales 51.00 + 7.00 + 29.00, VAT 3.82 + 0.52 + 2.17 as each receipt showed it;
        # of the 10.00 refund, 7/45 (1.56, largest remainder) at 8.1 %: VAT 0.12
        "8.1": (87_00, 6_51, 1_56, 12, 85_44, 6_39),
        # sales 9.50 + 38.00, VAT 0.24 + 0.96; the rest of the refund, 8.44: VAT 0.21
        "2.6": (47_50, 1_20, 8_44, 21, 39_06, 99),
    }
    totals = summary.totals
    assert (totals.sales, totals.sales_vat, totals.refunds, totals.refunds_vat) == (134_50, 7_71, 10_00, 33)
    assert (summary.delivery, summary.delivery_vat) == (21_00, 1_57)  # 3 × B-Post, VAT on 21.00


def test_a_refund_counts_in_the_quarter_it_was_paid_out_and_by_the_rate_of_its_items(settings, quarter_of_sales):
    summary = with_database(settings, lambda db, _c: vat_summary(db, Period.parse("2027-Q1")))
    assert (summary.orders, summary.refunds) == (1, 1)
    assert figures(summary) == {"8.1": (29_00, 2_17, 22_00, 1_65, 7_00, 52)}


def test_the_sales_add_up_to_the_paid_orders_of_the_period(settings, quarter_of_sales):
    a, b, _c, twice = quarter_of_sales
    summary = with_database(settings, lambda db, _c: vat_summary(db, Period.parse("2026-Q4")))
    assert summary.totals.sales == a.total + b.total + twice.total
    months = [
        with_database(settings, lambda db, _c, m=m: vat_summary(db, Period.parse(m)))
        for m in ("2026-10", "2026-11", "2026-12")
    ]
    assert sum(month.totals.sales for month in months) == summary.totals.sales
    assert sum(month.totals.refunds_vat for month in months) == summary.totals.refunds_vat


def test_the_orders_csv_has_a_row_per_line_and_delivery_with_payments_and_refunds(settings, quarter_of_sales):
    a, _b, _c, twice = quarter_of_sales
    text = with_database(settings, lambda db, _c: orders_csv(db, Period.parse("2026-Q4")))
    rows = list(csv.DictReader(io.StringIO(text)))
    of_a = [row for row in rows if row["order"] == a.number]
    assert [(r["sku"], r["quantity"], r["unit_price"], r["line_total"], r["vat_rate"], r["vat"]) for r in of_a] == [
        ("MUG", "2", "22.00", "44.00", "8.1", "3.30"),
        ("HONEY-250", "1", "9.50", "9.50", "2.6", "0.24"),
        ("DELIVERY", "1", "7.00", "7.00", "8.1", "0.52"),
    ]
    assert of_a[0]["date"] == "2026-11-10" and of_a[0]["payments"] == f"pi_for_{a.id} (succeeded)"
    of_twice = [row for row in rows if row["order"] == twice.number]
    assert f"pi_again_{twice.id} (refunded)" in of_twice[0]["payments"]
    assert of_twice[0]["refunds"].startswith("re_refund-") and of_twice[0]["refunds"].endswith("(succeeded)")
    assert {row["status"] for row in rows} == {"paid", "pending_payment"}  # every order placed, paid or not


def test_the_vat_csv_carries_the_summary(settings, quarter_of_sales):
    summary = with_database(settings, lambda db, _c: vat_summary(db, Period.parse("2026-Q4")))
    rows = list(csv.reader(io.StringIO(vat_summary_csv(summary))))
    assert rows[1] == ["2026-Q4", "8.1", "87.00", "6.51", "1.56", "0.12", "85.44", "6.39"]
    assert rows[3] == ["2026-Q4", "total", "134.50", "7.71", "10.00", "0.33", "124.50", "7.38"]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-Q4", dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        ("2027-Q1", dt.date(2027, 1, 1), dt.date(2027, 4, 1)),
        ("2026-12", dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
        ("2026-02", dt.date(2026, 2, 1), dt.date(2026, 3, 1)),
    ],
)
def test_periods(text, start, end):
    period = Period.parse(text)
    assert (period.start, period.end) == (start, end)
    assert period.bounds()[0] == dt.datetime.combine(start, dt.time(), SWISS_TIME)


@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "26-Q1", "Q4", "", "2026-Q4; drop"])
def test_what_is_not_a_period_is_refused(text):
    with pytest.raises(PeriodError):
        Period.parse(text)
