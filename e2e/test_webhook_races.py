"""Stripe's webhook and the customer's return race each other. Whichever comes first, late, twice,
out of order or never, the customer sees "paid" and the shop holds one paid order with one e-mail.
These journeys need the offline sandbox's switches."""

import re

from playwright.sync_api import Page, Route, expect

from e2e.pages import PAID, OrderPage
from e2e.steps import check_out

SUCCEEDED = "payment_intent.succeeded"
FAILED_EVENT = "payment_intent.payment_failed"


def assert_one_paid_order(records, email: str) -> str:
    """The shop stored exactly one order for the customer, paid, with one confirmation e-mail."""
    [order] = records.orders(email)
    assert (order.status, order.needs_refund) == ("paid", False)
    assert records.emails(order.number) == ["order_paid"]
    return order.number


def test_webhook_before_the_customer_returns(page: Page, address, sandbox, records):
    """The webhook arrives while the customer is still on the way back: the order is paid before they see it."""
    review = check_out(page, address, "postcards-lakes")
    intent_id = review.payment_intent_id

    def after_the_webhook(route: Route) -> None:
        sandbox.wait_for_deliveries(intent_id, SUCCEEDED)
        if records:  # the webhook alone made the order paid
            assert [o.status for o in records.orders(address.email)] == ["paid"]
        route.continue_()

    page.route(re.compile(r"/checkout/return\?"), after_the_webhook)
    order = review.pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    if records:
        number = assert_one_paid_order(records, address.email)
        assert records.events(number).count(SUCCEEDED) == 1


def test_webhook_after_the_customer_returns(page: Page, address, sandbox, records):
    """The webhook comes 5 s late: the returning customer sees "paid" at once (the shop asks Stripe), the late
    webhook changes nothing."""
    sandbox.switch(webhook_delay_s=5)
    review = check_out(page, address, "linen-tea-towel")
    intent_id = review.payment_intent_id
    order = review.pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    assert [d["state"] for d in sandbox.deliveries(intent_id, SUCCEEDED)] == ["pending"]  # not sent yet
    [late] = sandbox.wait_for_deliveries(intent_id, SUCCEEDED)
    assert late["last_status"] == 200
    page.reload()
    expect(order.status).to_contain_text(PAID)
    if records:
        number = assert_one_paid_order(records, address.email)
        assert SUCCEEDED in records.events(number)


def test_webhook_twice(page: Page, address, sandbox, records):
    """Every event is delivered twice: both are answered 200, the second changes nothing."""
    sandbox.switch(webhook_duplicate=True)
    review = check_out(page, address, "dark-chocolate")
    intent_id = review.payment_intent_id
    order = review.pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    both = sandbox.wait_for_deliveries(intent_id, SUCCEEDED, count=2)
    assert both[0]["event_id"] == both[1]["event_id"]  # the same event, twice
    assert [d["last_status"] for d in both] == [200, 200]
    if records:
        number = assert_one_paid_order(records, address.email)
        assert records.events(number).count(SUCCEEDED) == 1  # recorded once by its event id


def test_webhooks_out_of_order(page: Page, address, sandbox, records):
    """A failed attempt, then success; the webhooks are held and sent newest first, with the customer gone:
    "succeeded" comes before "payment_failed", and the late failure does not unpay the order."""
    sandbox.switch(webhook_drop="on_demand", webhook_out_of_order=True)
    review = check_out(page, address, "alpine-honey", option="250 g")
    intent_id, order_url = review.payment_intent_id, review.order_url
    failed = review.pay_with_twint().fail()
    retry = failed.try_again()
    sandbox.switch(customer_never_returns=True)
    retry.pay_with_twint().authorize_without_returning()
    held = sandbox.deliveries(intent_id)
    assert held and {d["state"] for d in held} == {"held"}
    assert sandbox.release_held() >= len(held)
    sandbox.wait_for_deliveries(intent_id, FAILED_EVENT)
    [succeeded] = sandbox.wait_for_deliveries(intent_id, SUCCEEDED)
    [payment_failed] = sandbox.deliveries(intent_id, FAILED_EVENT)
    assert succeeded["updated"] < payment_failed["updated"]  # really sent newest first
    if records:  # paid by the webhook alone: the customer never came back
        number = assert_one_paid_order(records, address.email)
        applied = records.events(number)
        assert applied[0] == SUCCEEDED
        assert FAILED_EVENT in applied  # applied after "succeeded", and ignored
    order = OrderPage(page).open(order_url)
    expect(order.status).to_contain_text(PAID)


def test_webhook_never_comes(page: Page, address, sandbox, records):
    """Every webhook is lost: the order page asks Stripe itself and shows "paid"."""
    sandbox.switch(webhook_drop="all")
    review = check_out(page, address, "coffee-beans", option="250 g")
    intent_id = review.payment_intent_id
    order = review.pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    assert {d["state"] for d in sandbox.deliveries(intent_id)} == {"dropped"}
    if records:
        number = assert_one_paid_order(records, address.email)
        assert records.events(number) == []  # nothing came by webhook
