"""Refunds through the official library: full or partial, never more than was paid."""

import pytest
import stripe

from tests.support.sandbox import CONFIRM, PARAMS


@pytest.fixture
def paid_intent(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    sandbox.authorize(intent.id)
    return client.v1.payment_intents.retrieve(intent.id)


def test_partial_refunds_up_to_the_amount_then_no_more(client, sandbox, paid_intent):
    first = client.v1.refunds.create(
        params={"payment_intent": paid_intent.id, "amount": 1000, "reason": "requested_by_customer"}
    )
    assert isinstance(first, stripe.Refund)
    assert (first.status, first.amount, first.currency, first.charge) == (
        "succeeded",
        1000,
        "chf",
        paid_intent.latest_charge,
    )
    assert first.reason == "requested_by_customer"
    rest = client.v1.refunds.create(params={"payment_intent": paid_intent.id})
    assert rest.amount == 3990
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": paid_intent.id, "amount": 1})
    assert caught.value.code == "charge_already_refunded"
    assert client.v1.refunds.retrieve(first.id) == first
    kinds = [
        e["type"]
        for _seq, e in sandbox.store.events()
        if e["data"]["object"]["id"] in {first.id, rest.id, paid_intent.latest_charge}
    ]
    assert kinds == [
        "charge.succeeded",
        "refund.created",
        "refund.updated",
        "charge.refunded",
        "refund.created",
        "refund.updated",
        "charge.refunded",
    ]


def test_refunding_more_than_was_paid_is_refused(client, paid_intent):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": paid_intent.id, "amount": 4991})
    assert (caught.value.code, caught.value.param) == ("amount_too_large", "amount")


def test_an_unpaid_intent_has_nothing_to_refund(client):
    intent = client.v1.payment_intents.create(params=PARAMS)
    with pytest.raises(stripe.InvalidRequestError, match="does not have a successful charge"):
        client.v1.refunds.create(params={"payment_intent": intent.id})


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({}, "parameter_missing", "payment_intent"),
        ({"payment_intent": "pi_nothing"}, "resource_missing", "payment_intent"),
        ({"charge": "ch_nothing"}, "resource_missing", "charge"),
        ({"payment_intent": "pi_x", "amount": 0}, "parameter_invalid_integer", "amount"),
    ],
)
def test_refund_parameters_are_checked(client, params, code, param):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params=params)
    assert (caught.value.code, caught.value.param) == (code, param)


def test_a_refund_has_every_field_stripe_sends(client, paid_intent):
    refund = client.v1.refunds.create(params={"payment_intent": paid_intent.id, "amount": 100})
    assert set(refund.to_dict()) == {
        "id",
        "object",
        "amount",
        "balance_transaction",
        "charge",
        "created",
        "currency",
        "customer",
        "description",
        "destination_details",
        "failure_reason",
        "instructions_email",
        "metadata",
        "next_action",
        "payment_intent",
        "payment_method",
        "pending_reason",
        "presentment_details",
        "reason",
        "receipt_number",
        "source_transfer_reversal",
        "status",
        "transfer_reversal",
    }
    assert refund.id.startswith("re_")
    assert refund.payment_intent == paid_intent.id
