"""Placing orders and applying payment states, through the services, on each database."""

import asyncio
import email.policy

import pytest

from storefront.cart.service import add_to_cart
from storefront.orders.lifecycle import apply_payment_state
from storefront.orders.models import OrderStatus
from storefront.orders.placing import HoardingLimits, OrderRefused, place_order
from storefront.orders.timeline import Source
from storefront.orders.views import find_order, order_money, payments_to_refund
from storefront.shipping import shipping_method
from storefront.tokens import new_token
from tests.support.db import (
    cart_lines,
    count,
    execute,
    order_status,
    payments,
    query,
    stock,
    variant_id,
    with_database,
)
from tests.support.factories import (
    CUSTOMER,
    TODAY,
    apply,
    fill_cart,
    intent,
    order_with_second_payment,
    paid_order,
    place,
    waiting_order,
)


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
    assert order_status(settings, order.id) == "pending_payment"
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
    assert count(settings, "shop_order") == 0


def test_twint_limits_are_checked_before_anything_is_reserved(settings):
    execute(settings.database_url, "UPDATE variant SET stock = 100 WHERE sku = 'HUT'")
    token = fill_cart(settings, ("HUT", 36))  # CHF 5'040.00
    with pytest.raises(OrderRefused, match="above_twint_limit"):
        place(settings, token)
    assert stock(settings, "HUT") == 100


def test_a_flash_sale_sells_exactly_the_stock(settings):
    """Many customers at once for 10 units: 10 orders, stock 0, never below."""
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

        with_database(settings, fill)
        execute(settings.database_url, "UPDATE variant SET stock = 10 WHERE sku = 'MUG'")

    async def sale(database, catalog):
        return await asyncio.gather(
            *(place_order(database, catalog, token, CUSTOMER, shipping_method("pickup"), TODAY) for token in tokens),
            return_exceptions=True,
        )

    outcomes = with_database(settings, sale)
    sold = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, OrderRefused)]
    assert len(sold) == 10
    assert len(refused) == customers - 10
    assert all(outcome.reason == "sold_out" for outcome in refused)
    assert stock(settings, "MUG") == 0
    assert count(settings, "shop_order") == 10


def test_a_succeeded_payment_marks_the_order_paid_once_and_empties_the_cart(settings):
    order = waiting_order(settings, ("MUG", 1))
    first = apply(settings, intent(order, "succeeded"))
    again = apply(settings, intent(order, "succeeded"))
    assert (first.status, first.changed, again.changed) == (OrderStatus.PAID, True, False)
    assert payments(settings, order.id) == [(f"pi_for_{order.id}", "succeeded")]
    assert cart_lines(settings) == []
    assert stock(settings, "MUG") == 11  # consumed by the reservation, not taken twice


def test_a_failure_after_success_leaves_the_order_paid(settings):
    order = paid_order(settings, ("MUG", 1))
    late = apply(settings, intent(order, "failed", error_code="payment_intent_authentication_failure"))
    assert (late.status, late.changed) == (OrderStatus.PAID, False)
    assert payments(settings, order.id) == [(f"pi_for_{order.id}", "succeeded")]
    errors = "SELECT last_error_code, last_error_message FROM payment WHERE order_id = :id"
    assert query(settings.database_url, errors, id=order.id) == [(None, None)]  # the stale failure is not its


def test_a_failed_attempt_can_be_retried_and_then_paid(settings):
    order = waiting_order(settings, ("MUG", 1))
    declined = intent(order, "failed", error_code="payment_method_provider_decline", error_message="No")
    failed = apply(settings, declined)
    assert query(
        settings.database_url,
        "SELECT last_error_code, last_error_message FROM payment WHERE order_id = :id",
        id=order.id,
    ) == [("payment_method_provider_decline", "No")]
    retry = apply(settings, intent(order, "pending"))
    paid = apply(settings, intent(order, "succeeded"))
    assert [failed.status, retry.status, paid.status] == [
        OrderStatus.PAYMENT_FAILED,
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PAID,
    ]
    assert cart_lines(settings) == []


def test_cancelling_releases_the_stock(settings):
    order = waiting_order(settings, ("MUG", 2))
    assert stock(settings, "MUG") == 10
    cancelled = apply(settings, intent(order, "canceled"))
    assert cancelled.status == OrderStatus.CANCELLED
    assert payments(settings, order.id) == [(f"pi_for_{order.id}", "canceled")]
    assert stock(settings, "MUG") == 12
    assert cart_lines(settings) == [("MUG", 2)]  # the customer may try again


def test_a_late_success_after_cancellation_is_honoured_while_stock_allows(settings):
    order = waiting_order(settings, ("MUG", 2))
    apply(settings, intent(order, "canceled"))
    late = apply(settings, intent(order, "succeeded"))
    assert late.status == OrderStatus.PAID
    assert stock(settings, "MUG") == 10


def test_a_late_success_without_stock_is_money_due_back(settings):
    order = waiting_order(settings, ("MUG", 2))
    apply(settings, intent(order, "canceled"))
    execute(settings.database_url, "UPDATE variant SET stock = 1 WHERE sku = 'MUG'")
    late = apply(settings, intent(order, "succeeded"))
    assert late.status == OrderStatus.CANCELLED
    assert payments(settings, order.id) == [(f"pi_for_{order.id}", "refund_due")]
    money = with_database(settings, lambda db, _cat: order_money(db, order.id))
    assert (money.received, money.refund_due, money.refunded) == (order.total, order.total, 0)
    assert stock(settings, "MUG") == 1  # never negative, nothing half-taken


def test_an_amount_that_does_not_match_the_order_is_not_applied(settings):
    order = waiting_order(settings, ("MUG", 1))
    tampered = apply(settings, intent(order, "succeeded", amount=1))
    assert (tampered.status, tampered.changed) == (OrderStatus.PENDING_PAYMENT, False)
    other_currency = apply(settings, intent(order, "succeeded", currency="eur"))
    assert other_currency.changed is False
    assert order_status(settings, order.id) == "pending_payment"
    assert payments(settings, order.id) == [(f"pi_for_{order.id}", "pending")]


def test_a_second_succeeded_payment_is_due_back_never_fulfilled_twice(settings):
    order = order_with_second_payment(settings, ("MUG", 1))
    assert order_status(settings, order.id) == "paid"
    assert payments(settings, order.id) == [
        (f"pi_for_{order.id}", "succeeded"),
        (f"pi_again_{order.id}", "refund_due"),
    ]
    due = with_database(settings, lambda db, _cat: payments_to_refund(db))
    assert [(d.order_number, d.intent_id, d.amount) for d in due] == [
        (order.number, f"pi_again_{order.id}", order.total)
    ]
    money = with_database(settings, lambda db, _cat: order_money(db, order.id))
    assert (money.received, money.refund_due, money.kept) == (2 * order.total, order.total, 2 * order.total)
    # One confirmation for the one sale, and one notice to the shop.
    assert query(settings.database_url, "SELECT kind FROM outbox_email ORDER BY id") == [
        ("order_paid",),
        ("owner_order_paid",),
    ]


def test_a_failed_or_cancelled_stray_payment_leaves_the_waiting_order_alone(settings):
    order = waiting_order(settings, ("MUG", 1))
    apply(settings, intent(order, "canceled", id="pi_stray", client_secret=None))
    apply(settings, intent(order, "failed", id="pi_stray_2", client_secret=None))
    apply(settings, intent(order, "succeeded", id="pi_stray_3", amount=1, client_secret=None))
    assert order_status(settings, order.id) == "pending_payment"
    assert stock(settings, "MUG") == 11
    view = with_database(settings, lambda db, _cat: find_order(db, order_id=order.id))
    assert view.payment.intent_id == f"pi_for_{order.id}"  # the one the customer pays with
    assert [p.intent_id for p in view.payments] == [f"pi_for_{order.id}", "pi_stray", "pi_stray_2"]


def test_a_payment_for_an_order_this_shop_does_not_have_is_refused(settings):
    order = waiting_order(settings, ("MUG", 1))
    with pytest.raises(LookupError):
        apply(settings, intent(order, "succeeded", id="pi_elsewhere", order_id=999_999))
    assert count(settings, "payment") == 1


def test_the_same_state_applied_ten_times_at_once_changes_the_order_once(settings):
    order = waiting_order(settings, ("MUG", 2))

    async def storm(database, _catalog):
        return await asyncio.gather(
            *(apply_payment_state(database, intent(order, "canceled"), Source.WEBHOOK) for _ in range(10))
        )

    outcomes = with_database(settings, storm)
    assert sum(outcome.changed for outcome in outcomes) == 1
    assert stock(settings, "MUG") == 12  # released once


def test_submitting_the_same_checkout_twice_keeps_one_order(settings):
    token = fill_cart(settings, ("MUG", 1))
    first, second = place(settings, token), place(settings, token)
    assert first == second
    assert stock(settings, "MUG") == 11


def test_twenty_concurrent_submits_of_one_cart_place_one_order(settings):
    """A double click (or twenty) gives one order, one reservation."""
    token = fill_cart(settings, ("MUG", 2))

    async def clicks(database, catalog):
        return await asyncio.gather(
            *(place_order(database, catalog, token, CUSTOMER, shipping_method("b_post"), TODAY) for _ in range(20))
        )

    orders = with_database(settings, clicks)
    assert len({order.id for order in orders}) == 1
    assert stock(settings, "MUG") == 10
    assert count(settings, "shop_order") == 1


def test_a_changed_cart_gets_a_new_order_and_the_old_one_gives_its_stock_back(settings):
    token = fill_cart(settings, ("MUG", 1))
    first = place(settings, token)

    async def add_more(database, catalog):
        await add_to_cart(database, catalog, token, mug, 1, 99)

    mug = variant_id(settings, "MUG")
    with_database(settings, add_more)
    second = place(settings, token)
    assert second.id != first.id
    assert order_status(settings, first.id) == "cancelled"
    assert stock(settings, "MUG") == 10  # 12 - 2, the first order's unit back


def test_a_paid_order_queues_one_confirmation_and_the_outbox_sends_it(settings, tmp_path):
    from email import message_from_bytes

    from storefront.orders.emails import OutboxSender

    order = paid_order(settings, ("MUG", 1))
    apply(settings, intent(order, "succeeded"))
    assert count(settings, "outbox_email") == 2  # the customer's confirmation and the shop's notice

    async def send(database, _catalog):
        sender = OutboxSender(database, "Storefront <shop@example.ch>", tmp_path, owner="orders@example.ch")
        return await sender.send_due(), await sender.send_due()

    assert with_database(settings, send) == (2, 0)  # each sent once
    messages = [message_from_bytes(eml.read_bytes(), policy=email.policy.default) for eml in tmp_path.glob("*.eml")]
    (notice,) = [m for m in messages if m["To"] == "orders@example.ch"]
    assert notice["Subject"] == f"Neue Bestellung {order.number}: CHF\xa029.00"  # 22.00 + B-Post 7.00
    assert "Enamel Mug" in notice.get_payload(decode=True).decode()
    (message,) = [m for m in messages if m["To"] == "anna@example.ch"]
    assert message["Subject"] == f"Ihre Bestellung {order.number}"  # the order was placed in German
    body = message.get_payload(decode=True).decode()
    assert "1 × Enamel Mug: CHF\xa022.00" in body
    assert "inkl. 8.1\xa0% MWST" in body
    assert "Lieferung: Die Post, B-Post (2–3 Werktage), CHF\xa07.00" in body  # the delivery by name
    assert body.rstrip().endswith("8001 Zürich\nSchweiz")  # the country by name, in the order's language
    assert query(settings.database_url, "SELECT sent_at IS NOT NULL FROM outbox_email") == [(True,), (True,)]


def test_an_unpaid_order_sends_nothing(settings):
    order = waiting_order(settings, ("MUG", 1))
    apply(settings, intent(order, "canceled"))
    assert count(settings, "outbox_email") == 0


def test_one_client_address_holds_at_most_three_unpaid_orders_and_places_at_most_ten_an_hour(settings):
    """A script without a login or a payment cannot reserve the stock: the fourth unpaid order from
    one address is refused before anything is reserved; another address is not concerned."""
    shipping = shipping_method("b_post")

    def place_from(client, limits=None):
        limits = limits or HoardingLimits()
        token = fill_cart(settings, ("MUG", 1))
        return with_database(
            settings,
            lambda db, cat: place_order(db, cat, token, CUSTOMER, shipping, TODAY, client=client, limits=limits),
        )

    held = [place_from("script") for _ in range(3)]
    before = stock(settings, "MUG")
    with pytest.raises(OrderRefused) as refused:
        place_from("script")
    assert refused.value.reason == "too_many_unpaid"
    assert stock(settings, "MUG") == before  # nothing reserved
    assert count(settings, "shop_order") == 3
    place_from("a customer")  # someone else buys as usual

    apply(settings, intent(held[0], "canceled"))  # one of them given up: room for one more
    place_from("script")
    for order in held[1:]:
        apply(settings, intent(order, "canceled"))
    # placing and giving up over and over: ten an hour at most
    limits = HoardingLimits(unpaid=100, per_hour=10)
    for _ in range(6):
        place_from("script", limits)
    with pytest.raises(OrderRefused) as refused:
        place_from("script", limits)
    assert refused.value.reason == "too_many_orders"
