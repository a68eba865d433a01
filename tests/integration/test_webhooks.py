"""Stripe's webhook endpoint: signed events applied once, in any order, and a 5xx answer for
what could not be applied."""

import asyncio
import json
import logging
import time

import pytest

from storefront.db import Database
from storefront.payments.gateway import StripeGateway
from storefront.payments.webhooks import handle_stripe_event
from storefront.sandbox.webhooks import signature_header
from tests.support.db import cart_lines, count, order_status, payments, stock
from tests.support.factories import waiting_order
from tests.support.logs import errors_in
from tests.support.sandbox import WEBHOOK_SECRET
from tests.support.webhooks import deliver, event


def processed(settings):
    return count(settings, "processed_event")


def test_a_signed_success_marks_the_order_paid(client, settings):
    order = waiting_order(settings, ("MUG", 1))
    response = deliver(client, event(order, "payment_intent.succeeded", "succeeded"), WEBHOOK_SECRET)
    assert response.status_code == 200
    assert order_status(settings, order.id) == "paid"
    assert cart_lines(settings) == []


def test_one_event_delivered_ten_times_changes_the_order_once(client, settings):
    order = waiting_order(settings, ("MUG", 2))
    cancelled = event(order, "payment_intent.canceled", "canceled")
    answers = [deliver(client, cancelled, WEBHOOK_SECRET).status_code for _ in range(10)]
    assert answers == [200] * 10
    assert processed(settings) == 1
    assert stock(settings, "MUG") == 12  # released once, not ten times


def test_one_event_delivered_ten_times_at_once_changes_the_order_once(client, settings):
    order = waiting_order(settings, ("MUG", 2))
    body = json.dumps(event(order, "payment_intent.canceled", "canceled"))
    secret = WEBHOOK_SECRET

    async def storm():
        database = Database(settings.database_url)
        try:
            return await asyncio.gather(
                *(
                    handle_stripe_event(
                        database, StripeGateway(settings), body.encode(), signature_header(body, secret), secret
                    )
                    for _ in range(10)
                )
            )
        finally:
            await database.dispose()

    answers = asyncio.run(storm())
    assert [answer.status_code for answer in answers] == [200] * 10
    assert processed(settings) == 1
    assert stock(settings, "MUG") == 12


def test_a_failure_reported_after_the_success_leaves_the_order_paid(client, settings):
    order = waiting_order(settings, ("MUG", 1))
    deliver(client, event(order, "payment_intent.succeeded", "succeeded"), WEBHOOK_SECRET)
    failed = event(
        order,
        "payment_intent.payment_failed",
        "requires_payment_method",
        last_payment_error={"code": "payment_intent_authentication_failure"},
    )
    assert deliver(client, failed, WEBHOOK_SECRET).status_code == 200
    assert order_status(settings, order.id) == "paid"


@pytest.mark.parametrize("forgery", ["no header", "wrong secret", "tampered body", "stale", "other payload"])
def test_a_forged_or_stale_event_is_refused_and_changes_nothing(client, settings, forgery):
    order = waiting_order(settings, ("MUG", 1))
    body = event(order, "payment_intent.succeeded", "succeeded")
    payload = json.dumps(body)
    secret = WEBHOOK_SECRET
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature_header(payload, secret)}
    if forgery == "no header":
        del headers["Stripe-Signature"]
    elif forgery == "wrong secret":
        headers["Stripe-Signature"] = signature_header(payload, "whsec_" + "0" * 32)
    elif forgery == "tampered body":
        payload = payload.replace(f'"amount": {order.total}', '"amount": 1', 1)
    elif forgery == "stale":
        headers["Stripe-Signature"] = signature_header(payload, secret, int(time.time()) - 301)
    else:
        headers["Stripe-Signature"] = signature_header(json.dumps({**body, "id": "evt_other"}), secret)
    response = client.post("/webhooks/stripe", content=payload.encode(), headers=headers)
    assert response.status_code == 400
    assert order_status(settings, order.id) == "pending_payment"
    assert processed(settings) == 0


def test_an_amount_that_does_not_match_is_not_applied(client, settings):
    order = waiting_order(settings, ("MUG", 1))
    response = deliver(client, event(order, "payment_intent.succeeded", "succeeded", amount=1), WEBHOOK_SECRET)
    assert response.status_code == 200
    assert order_status(settings, order.id) == "pending_payment"


def test_unknown_events_and_other_shops_payments_are_acknowledged(client, settings):
    order = waiting_order(settings, ("MUG", 1))
    assert deliver(client, event(order, "customer.created", "n/a"), WEBHOOK_SECRET).status_code == 200
    foreign = event(
        order, "payment_intent.succeeded", "succeeded", metadata={"environment": "elsewhere", "order_id": str(order.id)}
    )
    assert deliver(client, foreign, WEBHOOK_SECRET).status_code == 200
    assert order_status(settings, order.id) == "pending_payment"


@pytest.mark.parametrize(
    "damage",
    [
        lambda body: body.pop("data"),
        lambda body: body.pop("id"),
        lambda body: body.pop("type"),
        lambda body: body["data"].update(object="pi_1"),
        lambda body: body["data"]["object"].pop("id"),
        lambda body: body["data"]["object"].pop("status"),
    ],
    ids=["no data", "no id", "no type", "object not an object", "object without id", "intent without status"],
)
def test_a_signed_but_malformed_event_is_a_400_and_changes_nothing(client, settings, server_errors, damage):
    order = waiting_order(settings, ("MUG", 1))
    body = event(order, "payment_intent.succeeded", "succeeded")
    damage(body)
    assert deliver(client, body, WEBHOOK_SECRET).status_code == 400
    assert order_status(settings, order.id) == "pending_payment"
    assert processed(settings) == 0
    assert errors_in(server_errors) == []


@pytest.mark.parametrize(
    "metadata",
    [
        {"order_id": "999999", "environment": "development"},  # another database's order
        {"order_id": "{order}", "environment": "development"},  # an order of ours by id, nothing more
        {"order_id": "{order}", "order_ref": "0" * 32, "environment": "development"},  # a guessed reference
        {"order_id": "99999999999999999999999", "environment": "development"},
    ],
    ids=["unknown-order", "our-order-id-only", "wrong-reference", "huge-id"],
)
def test_an_event_for_a_payment_this_shop_did_not_make_is_acknowledged_logged_and_ignored(
    client, settings, caplog, metadata
):
    """Several shops or databases may share one Stripe account: an intent the shop has no record
    of counts only with the order's reference, which another shop cannot produce. Answered 200, so
    Stripe does not retry for days and disable the endpoint."""
    order = waiting_order(settings, ("MUG", 1))
    metadata = {key: value.replace("{order}", str(order.id)) for key, value in metadata.items()}
    foreign = event(order, "payment_intent.succeeded", "succeeded", id="pi_of_another_shop", metadata=metadata)
    with caplog.at_level(logging.WARNING, logger="storefront.payments"):
        assert deliver(client, foreign, WEBHOOK_SECRET).status_code == 200
    assert order_status(settings, order.id) == "pending_payment"
    assert [row[0] for row in payments(settings, order.id)] == [f"pi_for_{order.id}"]  # nothing marked to refund
    assert processed(settings) == 0
    assert any("pi_of_another_shop" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)
    assert errors_in(caplog.records) == []


def test_a_payment_the_shop_made_but_never_recorded_is_taken_with_its_reference(client, settings):
    """The worker stopped after Stripe created the intent, before the shop wrote it down."""
    order = waiting_order(settings, ("MUG", 1))
    unrecorded = event(order, "payment_intent.succeeded", "succeeded", id=f"pi_unrecorded_{order.id}")
    assert deliver(client, unrecorded, WEBHOOK_SECRET).status_code == 200
    assert order_status(settings, order.id) == "paid"


def test_the_webhook_needs_no_csrf_token(client, settings):
    order = waiting_order(settings, ("MUG", 1))
    client.cookies.clear()
    assert deliver(client, event(order, "payment_intent.succeeded", "succeeded"), WEBHOOK_SECRET).status_code == 200
    assert order_status(settings, order.id) == "paid"


def test_without_a_webhook_secret_no_event_is_taken(settings):
    order = waiting_order(settings, ("MUG", 1))
    body = json.dumps(event(order, "payment_intent.succeeded", "succeeded"))

    async def unsigned():
        database = Database(settings.database_url)
        try:
            return await handle_stripe_event(
                database, StripeGateway(settings), body.encode(), signature_header(body, ""), ""
            )
        finally:
            await database.dispose()

    assert asyncio.run(unsigned()).status_code == 500  # Stripe keeps it until the secret is set
    assert order_status(settings, order.id) == "pending_payment"
