"""POST /webhooks/stripe: verified on the raw body, applied once, answered so Stripe retries only
what could not be applied (reliability-security.md R5, R6, R7, R9)."""

import asyncio
import json
import time

import pytest

from storefront.db import Database
from storefront.orders.service import record_payment_intent
from storefront.payments.webhooks import handle_stripe_event
from storefront.sandbox.webhooks import signature_header
from tests.integration.conftest import cart_lines, query
from tests.integration.test_orders import fill_cart, place, stock


def pending_order(settings, *lines):
    order = place(settings, fill_cart(settings, *lines))

    async def attach():
        database = Database(settings.database_url)
        await record_payment_intent(database, order.id, f"pi_for_{order.id}")
        await database.dispose()

    asyncio.run(attach())
    return order


def event(order, event_type, status, event_id=None, **intent):
    return {
        "id": event_id or f"evt_{event_type}_{order.id}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {
            "object": {
                "id": f"pi_for_{order.id}",
                "object": "payment_intent",
                "amount": order.total,
                "currency": "chf",
                "status": status,
                "last_payment_error": None,
                "metadata": {"order_id": str(order.id), "environment": "development"},
                **intent,
            }
        },
    }


def deliver(client, body: dict, secret: str, *, timestamp=None, raw: str | None = None):
    payload = raw if raw is not None else json.dumps(body)
    return client.post(
        "/webhooks/stripe",
        content=payload.encode(),
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": signature_header(json.dumps(body) if raw is None else raw, secret, timestamp),
        },
    )


def secret_of(client):
    return client.app.state.shop.webhook_secret()


def order_status(settings, order_id):
    return query(settings.database_url, "SELECT status FROM shop_order WHERE id = :id", id=order_id)[0][0]


def processed(settings):
    return query(settings.database_url, "SELECT count(*) FROM processed_event")[0][0]


def test_a_signed_success_marks_the_order_paid(client, settings):
    order = pending_order(settings, ("MUG", 1))
    response = deliver(client, event(order, "payment_intent.succeeded", "succeeded"), secret_of(client))
    assert response.status_code == 200
    assert order_status(settings, order.id) == "paid"
    assert cart_lines(settings) == []


def test_one_event_delivered_ten_times_changes_the_order_once(client, settings):
    order = pending_order(settings, ("MUG", 2))
    cancelled = event(order, "payment_intent.canceled", "canceled")
    answers = [deliver(client, cancelled, secret_of(client)).status_code for _ in range(10)]
    assert answers == [200] * 10
    assert processed(settings) == 1
    assert stock(settings, "MUG") == 12  # released once, not ten times


def test_one_event_delivered_ten_times_at_once_changes_the_order_once(client, settings):
    order = pending_order(settings, ("MUG", 2))
    body = json.dumps(event(order, "payment_intent.canceled", "canceled"))
    secret = secret_of(client)

    async def storm():
        database = Database(settings.database_url)
        try:
            return await asyncio.gather(
                *(
                    handle_stripe_event(database, body.encode(), signature_header(body, secret), secret, "development")
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
    order = pending_order(settings, ("MUG", 1))
    deliver(client, event(order, "payment_intent.succeeded", "succeeded"), secret_of(client))
    failed = event(
        order,
        "payment_intent.payment_failed",
        "requires_payment_method",
        last_payment_error={"code": "payment_intent_authentication_failure"},
    )
    assert deliver(client, failed, secret_of(client)).status_code == 200
    assert order_status(settings, order.id) == "paid"


@pytest.mark.parametrize("forgery", ["no header", "wrong secret", "tampered body", "stale", "other payload"])
def test_a_forged_or_stale_event_is_refused_and_changes_nothing(client, settings, forgery):
    order = pending_order(settings, ("MUG", 1))
    body = event(order, "payment_intent.succeeded", "succeeded")
    payload = json.dumps(body)
    secret = secret_of(client)
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
    order = pending_order(settings, ("MUG", 1))
    response = deliver(client, event(order, "payment_intent.succeeded", "succeeded", amount=1), secret_of(client))
    assert response.status_code == 200
    assert order_status(settings, order.id) == "pending_payment"


def test_unknown_events_and_other_shops_payments_are_acknowledged(client, settings):
    order = pending_order(settings, ("MUG", 1))
    assert deliver(client, event(order, "customer.created", "n/a"), secret_of(client)).status_code == 200
    foreign = event(
        order, "payment_intent.succeeded", "succeeded", metadata={"environment": "elsewhere", "order_id": str(order.id)}
    )
    assert deliver(client, foreign, secret_of(client)).status_code == 200
    assert order_status(settings, order.id) == "pending_payment"


def test_an_event_for_an_order_that_cannot_be_found_is_answered_500_so_stripe_retries(client, settings):
    order = pending_order(settings, ("MUG", 1))
    missing = event(
        order, "payment_intent.succeeded", "succeeded", metadata={"order_id": "999999", "environment": "development"}
    )
    assert deliver(client, missing, secret_of(client)).status_code == 500
    assert processed(settings) == 0  # recorded only with its effect


def test_the_webhook_needs_no_csrf_token(client, settings):
    order = pending_order(settings, ("MUG", 1))
    client.cookies.clear()
    assert deliver(client, event(order, "payment_intent.succeeded", "succeeded"), secret_of(client)).status_code == 200
    assert order_status(settings, order.id) == "paid"
