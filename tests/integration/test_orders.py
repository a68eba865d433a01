"""Placing orders and applying payment states, through the services, on each database."""

import asyncio
import datetime as dt

import pytest

from storefront.cart.service import add_to_cart, new_token
from storefront.catalog.service import Catalog
from storefront.checkout.shipping import shipping_method
from storefront.db import Database
from storefront.orders.models import OrderStatus
from storefront.orders.service import Customer, OrderRefused, place_order, record_payment_intent
from storefront.payments.service import apply_payment_state
from tests.integration.conftest import cart_lines, execute, query, variant_id

CUSTOMER = Customer(
    email="anna@example.ch",
    name="Anna Muster",
    phone=None,
    street="Bahnhofstrasse 1",
    postal_code="8001",
    city="Zürich",
    country="CH",
)
TODAY = dt.date(2026, 11, 30)


def run(coroutine):
    return asyncio.run(coroutine)


async def _with_database(settings, work):
    database = Database(settings.database_url)
    try:
        return await work(database, Catalog(database))
    finally:
        await database.dispose()


def fill_cart(settings, *lines):
    token = new_token()
    ids = [(variant_id(settings, sku), quantity) for sku, quantity in lines]

    async def work(database, catalog):
        for variant, quantity in ids:
            await add_to_cart(database, catalog, token, variant, quantity, 99)

    run(_with_database(settings, work))
    return token


def place(settings, token, method="b_post"):
    return run(
        _with_database(settings, lambda db, cat: place_order(db, cat, token, CUSTOMER, shipping_method(method), TODAY))
    )


def stock(settings, sku):
    return query(settings.database_url, "SELECT stock FROM variant WHERE sku = :sku", sku=sku)[0][0]


def order_row(settings, order_id):
    return query(
        settings.database_url,
        "SELECT status, needs_refund, refund_reason, total FROM shop_order WHERE id = :id",
        id=order_id,
    )[0]


def intent(order, status, **extra):
    return {
        "id": f"pi_for_{order.id}",
        "status": status,
        "amount": order.total,
        "currency": "chf",
        "last_payment_error": None,
        **extra,
    }


def apply(settings, order_id, state):
    return run(_with_database(settings, lambda db, _cat: apply_payment_state(db, order_id, state)))


def paid_order(settings, *lines):
    order = place(settings, fill_cart(settings, *lines))
    run(_with_database(settings, lambda db, _cat: record_payment_intent(db, order.id, f"pi_for_{order.id}")))
    return order


def test_placing_an_order_reserves_stock_and_snapshots_the_lines(settings):
    token = fill_cart(settings, ("HONEY-500", 2), ("MUG", 1))
    order = place(settings, token)
    assert (order.number, order.total) == (str(1000 + order.id), 2 * 1690 + 2200 + 700)
    assert (stock(settings, "HONEY-500"), stock(settings, "MUG")) == (1, 11)
    lines = query(
        settings.database_url,
        "SELECT sku, product_name, variant_label, unit_price, quantity, vat_rate "
        "FROM order_line WHERE order_id = :id ORDER BY id",
        id=order.id,
    )
    assert lines == [("HONEY-500", "Alpine Honey", "500 g", 1690, 2, "2.6"), ("MUG", "Enamel Mug", "", 2200, 1, "8.1")]
    assert order_row(settings, order.id)[0] == "pending_payment"
    assert cart_lines(settings) == [("HONEY-500", 2), ("MUG", 1)]  # kept until paid


def test_shipping_is_free_from_chf_100(settings):
    order = place(settings, fill_cart(settings, ("HUT", 1)), method="a_post")
    assert order.total == 14000


def test_one_sold_out_line_reserves_nothing(settings):
    token = fill_cart(settings, ("MUG", 2), ("HONEY-500", 3))
    execute(settings.database_url, "UPDATE variant SET stock = 1 WHERE sku = 'HONEY-500'")
    with pytest.raises(OrderRefused) as refused:
        place(settings, token)
    assert (refused.value.reason, refused.value.items) == ("sold_out", ("Alpine Honey (500 g)",))
    assert (stock(settings, "MUG"), stock(settings, "HONEY-500")) == (12, 1)
    assert query(settings.database_url, "SELECT count(*) FROM shop_order")[0][0] == 0


def test_twint_limits_are_checked_before_anything_is_reserved(settings):
    execute(settings.database_url, "UPDATE variant SET stock = 100 WHERE sku = 'HUT'")
    token = fill_cart(settings, ("HUT", 36))  # CHF 5'040.00
    with pytest.raises(OrderRefused, match="above_twint_limit"):
        place(settings, token)
    assert stock(settings, "HUT") == 100


def test_a_flash_sale_sells_exactly_the_stock(settings):
    """R1/R2: many customers at once for 10 units: 10 orders, stock 0, never below."""
    customers = 200 if "postgresql" in settings.database_url else 50
    execute(settings.database_url, "UPDATE variant SET stock = 10 WHERE sku = 'MUG'")
    tokens = [fill_cart(settings, ("MUG", 1)) for _ in range(customers)] if customers <= 50 else None
    if tokens is None:  # 200 carts: filled in one go
        tokens = [new_token() for _ in range(customers)]
        execute(settings.database_url, "UPDATE variant SET stock = 1000 WHERE sku = 'MUG'")
        mug = variant_id(settings, "MUG")

        async def fill(database, catalog):
            for token in tokens:
                await add_to_cart(database, catalog, token, mug, 1, 99)

        run(_with_database(settings, fill))
        execute(settings.database_url, "UPDATE variant SET stock = 10 WHERE sku = 'MUG'")

    async def sale(database, catalog):
        return await asyncio.gather(
            *(place_order(database, catalog, token, CUSTOMER, shipping_method("pickup"), TODAY) for token in tokens),
            return_exceptions=True,
        )

    outcomes = run(_with_database(settings, sale))
    sold = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, OrderRefused)]
    assert len(sold) == 10
    assert len(refused) == customers - 10
    assert all(outcome.reason == "sold_out" for outcome in refused)
    assert stock(settings, "MUG") == 0
    assert query(settings.database_url, "SELECT count(*) FROM shop_order")[0][0] == 10


def test_a_succeeded_payment_marks_the_order_paid_once_and_empties_the_cart(settings):
    order = paid_order(settings, ("MUG", 1))
    first = apply(settings, order.id, intent(order, "succeeded"))
    again = apply(settings, order.id, intent(order, "succeeded"))
    assert (first.status, first.changed, again.changed) == (OrderStatus.PAID, True, False)
    assert cart_lines(settings) == []
    assert stock(settings, "MUG") == 11  # consumed by the reservation, not taken twice


def test_a_failure_after_success_leaves_the_order_paid(settings):
    order = paid_order(settings, ("MUG", 1))
    apply(settings, order.id, intent(order, "succeeded"))
    late = apply(
        settings,
        order.id,
        intent(order, "requires_payment_method", last_payment_error={"code": "payment_intent_authentication_failure"}),
    )
    assert (late.status, late.changed) == (OrderStatus.PAID, False)


def test_a_failed_attempt_can_be_retried_and_then_paid(settings):
    order = paid_order(settings, ("MUG", 1))
    failed = apply(settings, order.id, intent(order, "requires_payment_method", last_payment_error={"code": "x"}))
    retry = apply(settings, order.id, intent(order, "requires_action"))
    paid = apply(settings, order.id, intent(order, "succeeded"))
    assert [failed.status, retry.status, paid.status] == [
        OrderStatus.PAYMENT_FAILED,
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PAID,
    ]
    assert cart_lines(settings) == []


def test_cancelling_releases_the_stock(settings):
    order = paid_order(settings, ("MUG", 2))
    assert stock(settings, "MUG") == 10
    cancelled = apply(settings, order.id, intent(order, "canceled"))
    assert cancelled.status == OrderStatus.CANCELLED
    assert stock(settings, "MUG") == 12
    assert cart_lines(settings) == [("MUG", 2)]  # the customer may try again


def test_a_late_success_after_cancellation_is_honoured_while_stock_allows(settings):
    order = paid_order(settings, ("MUG", 2))
    apply(settings, order.id, intent(order, "canceled"))
    late = apply(settings, order.id, intent(order, "succeeded"))
    assert late.status == OrderStatus.PAID
    assert stock(settings, "MUG") == 10


def test_a_late_success_without_stock_is_flagged_for_refund(settings):
    order = paid_order(settings, ("MUG", 2))
    apply(settings, order.id, intent(order, "canceled"))
    execute(settings.database_url, "UPDATE variant SET stock = 1 WHERE sku = 'MUG'")
    late = apply(settings, order.id, intent(order, "succeeded"))
    assert late.status == OrderStatus.CANCELLED
    assert order_row(settings, order.id)[:3] == ("cancelled", True, "paid after cancellation, stock gone")
    assert stock(settings, "MUG") == 1  # never negative, nothing half-taken


def test_an_amount_that_does_not_match_the_order_is_not_applied(settings):
    order = paid_order(settings, ("MUG", 1))
    tampered = apply(settings, order.id, intent(order, "succeeded", amount=1))
    assert (tampered.status, tampered.changed) == (OrderStatus.PENDING_PAYMENT, False)
    other_currency = apply(settings, order.id, intent(order, "succeeded", currency="eur"))
    assert other_currency.changed is False
    assert order_row(settings, order.id)[0] == "pending_payment"


def test_a_second_succeeded_payment_is_flagged_never_fulfilled_twice(settings):
    order = paid_order(settings, ("MUG", 1))
    apply(settings, order.id, intent(order, "succeeded"))
    second = apply(settings, order.id, {**intent(order, "succeeded"), "id": "pi_another"})
    assert second.status == OrderStatus.PAID
    assert order_row(settings, order.id)[:3] == ("paid", True, "second payment pi_another")


def test_the_same_state_applied_ten_times_at_once_changes_the_order_once(settings):
    order = paid_order(settings, ("MUG", 2))

    async def storm(database, _catalog):
        return await asyncio.gather(
            *(apply_payment_state(database, order.id, intent(order, "canceled")) for _ in range(10))
        )

    outcomes = run(_with_database(settings, storm))
    assert sum(outcome.changed for outcome in outcomes) == 1
    assert stock(settings, "MUG") == 12  # released once


def test_submitting_the_same_checkout_twice_keeps_one_order(settings):
    token = fill_cart(settings, ("MUG", 1))
    first, second = place(settings, token), place(settings, token)
    assert first == second
    assert stock(settings, "MUG") == 11


def test_twenty_concurrent_submits_of_one_cart_place_one_order(settings):
    """R3: a double click (or twenty) gives one order, one reservation."""
    token = fill_cart(settings, ("MUG", 2))

    async def clicks(database, catalog):
        return await asyncio.gather(
            *(place_order(database, catalog, token, CUSTOMER, shipping_method("b_post"), TODAY) for _ in range(20))
        )

    orders = run(_with_database(settings, clicks))
    assert len({order.id for order in orders}) == 1
    assert stock(settings, "MUG") == 10
    assert query(settings.database_url, "SELECT count(*) FROM shop_order")[0][0] == 1


def test_a_changed_cart_gets_a_new_order_and_the_old_one_gives_its_stock_back(settings):
    token = fill_cart(settings, ("MUG", 1))
    first = place(settings, token)

    async def add_more(database, catalog):
        await add_to_cart(database, catalog, token, mug, 1, 99)

    mug = variant_id(settings, "MUG")
    run(_with_database(settings, add_more))
    second = place(settings, token)
    assert second.id != first.id
    assert order_row(settings, first.id)[0] == "cancelled"
    assert stock(settings, "MUG") == 10  # 12 - 2, the first order's unit back


def test_a_paid_order_queues_one_confirmation_and_the_outbox_sends_it(settings, tmp_path):
    from email import message_from_bytes

    from storefront.orders.emails import OutboxSender

    order = paid_order(settings, ("MUG", 1))
    apply(settings, order.id, intent(order, "succeeded"))
    apply(settings, order.id, intent(order, "succeeded"))
    assert query(settings.database_url, "SELECT count(*) FROM outbox_email")[0][0] == 1

    async def send(database, _catalog):
        sender = OutboxSender(database, "Storefront <shop@example.ch>", tmp_path)
        return await sender.send_due(), await sender.send_due()

    assert run(_with_database(settings, send)) == (1, 0)  # sent once
    (eml,) = tmp_path.glob("*.eml")
    message = message_from_bytes(eml.read_bytes())
    assert message["To"] == "anna@example.ch"
    assert message["Subject"] == f"Ihre Bestellung {order.number}"  # the order was placed in German
    body = message.get_payload(decode=True).decode()
    assert "1 × Enamel Mug: CHF\xa022.00" in body
    assert "inkl. 8.1\xa0% MWST" in body
    assert query(settings.database_url, "SELECT sent_at IS NOT NULL FROM outbox_email")[0][0]


def test_an_unpaid_order_sends_nothing(settings):
    order = paid_order(settings, ("MUG", 1))
    apply(settings, order.id, intent(order, "canceled"))
    assert query(settings.database_url, "SELECT count(*) FROM outbox_email")[0][0] == 0
