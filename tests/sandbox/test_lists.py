"""Stripe's lists, expansions and updates through the official library (sync and async): events
filtered by type and time and paged as Stripe pages them, PaymentIntents and refunds, a Charge,
`expand[]`, and an update before the customer confirms."""

import asyncio
import time

import pytest
import stripe

from tests.support.sandbox import CONFIRM, PARAMS


def paid(client, sandbox, **changes):
    intent = client.v1.payment_intents.create(params={**PARAMS, **changes})
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    sandbox.authorize(intent.id)
    return client.v1.payment_intents.retrieve(intent.id)


def test_events_are_listed_newest_first_and_filtered_by_type(client):
    made = [client.v1.payment_intents.create(params=PARAMS).id for _ in range(3)]
    listed = client.v1.events.list(params={"type": "payment_intent.created", "limit": 100})
    assert listed.object == "list" and listed.url == "/v1/events"
    ours = [event.data.object.id for event in listed.data if event.data.object.id in made]
    assert ours == made[::-1]
    assert {event.type for event in listed.data} == {"payment_intent.created"}
    wildcard = client.v1.events.list(params={"type": "payment_intent.*", "limit": 100})
    assert {event.type.split(".")[0] for event in wildcard.data} == {"payment_intent"}
    several = client.v1.events.list(params={"types": ["charge.succeeded", "refund.created"], "limit": 100})
    assert {event.type for event in several.data} <= {"charge.succeeded", "refund.created"}


def test_pages_follow_each_other_with_starting_after_and_ending_before(client):
    for _ in range(3):
        client.v1.payment_intents.create(params=PARAMS)
    everything = client.v1.events.list(params={"limit": 100}).data
    first = client.v1.events.list(params={"limit": 2})
    assert first.has_more is True
    assert [e.id for e in first.data] == [e.id for e in everything[:2]]
    second = client.v1.events.list(params={"limit": 2, "starting_after": first.data[-1].id})
    assert [e.id for e in second.data] == [e.id for e in everything[2:4]]
    back = client.v1.events.list(params={"limit": 2, "ending_before": second.data[0].id})
    assert [e.id for e in back.data] == [e.id for e in everything[:2]]


def test_events_are_filtered_by_when_they_were_created(client):
    client.v1.payment_intents.create(params=PARAMS)
    future = int(time.time()) + 3600
    assert client.v1.events.list(params={"created": {"gte": future}}).data == []
    recent = client.v1.events.list(params={"created": {"gte": int(time.time()) - 60}, "limit": 100}).data
    assert recent and all(event.created >= int(time.time()) - 60 for event in recent)


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"starting_after": "evt_nothing"}, "starting_after")],
)
def test_bad_list_parameters_are_refused_as_stripe_refuses_them(client, params, param):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.events.list(params=params)
    assert refused.value.param == param


def test_payment_intents_are_listed_and_their_charges_expanded(client, sandbox):
    intent = paid(client, sandbox)
    listed = client.v1.payment_intents.list(params={"limit": 5, "expand": ["data.latest_charge"]})
    assert listed.data[0].id == intent.id
    assert isinstance(listed.data[0].latest_charge, stripe.Charge)
    assert listed.data[0].latest_charge.id == intent.latest_charge


def test_one_intent_with_its_charge_and_payment_method_expanded(client, sandbox):
    intent = paid(client, sandbox)
    expanded = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge", "payment_method"]})
    assert isinstance(expanded.latest_charge, stripe.Charge)
    assert expanded.latest_charge.payment_intent == intent.id
    assert isinstance(expanded.payment_method, stripe.PaymentMethod)
    assert expanded.payment_method.type == "twint"
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        client.v1.payment_intents.retrieve(intent.id, params={"expand": ["customer_balance"]})


def test_a_charge_can_be_retrieved(client, sandbox):
    intent = paid(client, sandbox)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.object, charge.amount, charge.payment_intent, charge.paid) == ("charge", 4990, intent.id, True)


def test_refunds_are_listed_by_payment_intent(client, sandbox):
    intent = paid(client, sandbox)
    made = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 100})
    listed = client.v1.refunds.list(params={"payment_intent": intent.id})
    assert [refund.id for refund in listed.data] == [made.id]
    assert listed.url == "/v1/refunds"


def test_an_intent_is_updated_before_the_customer_confirms_and_not_after(client):
    intent = client.v1.payment_intents.create(params=PARAMS)
    updated = client.v1.payment_intents.update(
        intent.id, params={"amount": 5990, "metadata": {"order_id": "", "note": "one more mug"}}
    )
    assert (updated.amount, updated.metadata.to_dict()) == (5990, {"note": "one more mug"})
    assert client.v1.payment_intents.retrieve(intent.id).amount == 5990
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.payment_intents.update(intent.id, params={"amount": 500_001})
    assert too_much.value.code == "amount_too_large"
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.update(intent.id, params={"amount": 1000})
    assert refused.value.code == "payment_intent_unexpected_state"


def test_the_async_client_lists_too(client):
    made = client.v1.payment_intents.create(params=PARAMS)

    async def newest():
        return await client.v1.payment_intents.list_async(params={"limit": 1})

    assert asyncio.run(newest()).data[0].id == made.id
