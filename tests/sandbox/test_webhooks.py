"""Signed webhook deliveries, checked with the stripe library's own construct_event, and the
switches that make them late, doubled, out of order, lost or retried."""

import time

import pytest
import stripe

from storefront.sandbox.faults import set_switches
from storefront.sandbox.webhooks import deliveries, release_held
from tests.support.sandbox import CONFIRM, PARAMS, WEBHOOK_SECRET


def pay(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    sandbox.authorize(intent.id)
    return intent


def test_every_event_arrives_signed_and_verifies_with_the_library(client, sandbox, receiver):
    intent = pay(client, sandbox)
    received = receiver.wait_for(4)
    assert [event["type"] for event in received] == [
        "payment_intent.created",
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    for body, headers in receiver.received:
        event = stripe.Webhook.construct_event(body.decode(), headers["stripe-signature"], WEBHOOK_SECRET)
        assert isinstance(event, stripe.Event)
    succeeded = stripe.Webhook.construct_event(
        receiver.received[-1][0].decode(), receiver.received[-1][1]["stripe-signature"], WEBHOOK_SECRET
    )
    assert isinstance(succeeded.data.object, stripe.PaymentIntent)
    assert (succeeded.data.object.id, succeeded.data.object.status) == (intent.id, "succeeded")


def test_a_tampered_body_or_another_secret_does_not_verify(client, sandbox, receiver):
    client.v1.payment_intents.create(params=PARAMS)
    assert receiver.wait_for(1)
    body, headers = receiver.received[0]
    # The delivery as sent verifies; any change to it, or another secret, does not.
    stripe.Webhook.construct_event(body.decode(), headers["stripe-signature"], WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode().replace("4990", "1"), headers["stripe-signature"], WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), headers["stripe-signature"], "whsec_" + "6" * 32)


def test_a_failed_delivery_is_retried_and_signed_afresh(client, sandbox, receiver):
    receiver.answers = [500]
    intent = client.v1.payment_intents.create(params=PARAMS)
    received = receiver.wait_for(2)
    assert [event["id"] for event in received] == [received[0]["id"]] * 2
    first, second = (headers["stripe-signature"] for _body, headers in receiver.received)
    assert first != second  # each attempt gets its own timestamp and signature
    # The receiver has answered; the sandbox records the answer just after, on its own thread.
    deadline = time.monotonic() + 5
    while True:
        (delivery,) = [d for d in deliveries(sandbox.store) if d["object_id"] == intent.id]
        if delivery["state"] != "sending" or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("delivered", 2, 200)


def test_an_endpoint_that_keeps_failing_is_given_up_after_a_bounded_number_of_attempts(
    client, sandbox, receiver, monkeypatch
):
    monkeypatch.setattr("storefront.sandbox.webhooks.RETRY_BASE_S", 0.05)
    receiver.answers = [503] * 10
    intent = client.v1.payment_intents.create(params=PARAMS)
    receiver.wait_for(4)
    time.sleep(0.5)
    (delivery,) = [d for d in deliveries(sandbox.store) if d["object_id"] == intent.id]
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("failed", 4, 503)
    assert len(receiver.received) == 4


def test_duplicate_delivery_sends_each_event_twice(client, sandbox, receiver):
    set_switches(sandbox.store, webhook_duplicate=True)
    client.v1.payment_intents.create(params=PARAMS)
    received = receiver.wait_for(2)
    assert len({event["id"] for event in received}) == 1
    assert len(received) == 2


def test_out_of_order_delivery_sends_the_newest_first(client, sandbox, receiver):
    set_switches(sandbox.store, webhook_out_of_order=True)
    pay(client, sandbox)
    received = receiver.wait_for(4)
    assert [event["type"] for event in received] == [
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.requires_action",
        "payment_intent.created",
    ]


def test_a_delay_holds_deliveries_back(client, sandbox, receiver):
    set_switches(sandbox.store, webhook_delay_s=30)
    intent = client.v1.payment_intents.create(params=PARAMS)
    (delivery,) = [d for d in deliveries(sandbox.store) if d["object_id"] == intent.id]
    assert delivery["state"] == "pending"
    assert delivery["due"] - delivery["updated"] == pytest.approx(30, abs=1)
    assert receiver.received == []


def test_dropped_deliveries_never_arrive_and_held_ones_arrive_on_demand(client, sandbox, receiver):
    set_switches(sandbox.store, webhook_drop="all")
    dropped = client.v1.payment_intents.create(params=PARAMS)
    set_switches(sandbox.store, webhook_drop="on_demand")
    held = client.v1.payment_intents.create(params=PARAMS)
    states = {d["object_id"]: d["state"] for d in deliveries(sandbox.store)}
    assert (states[dropped.id], states[held.id]) == ("dropped", "held")
    assert release_held(sandbox.store) == 1
    received = receiver.wait_for(1)
    assert [event["data"]["object"]["id"] for event in received] == [held.id]
