"""The PaymentIntent slice of the sandbox, driven only through the official `stripe` library (and
plain HTTP where Stripe.js would call); the rules they check are in docs/payments.md."""

import re

import httpx
import pytest
import stripe

from tests.support.sandbox import CONFIRM, PARAMS, PUBLISHABLE_KEY, SECRET_KEY
from tests.support.schema import problems


def test_create_returns_a_typed_intent_with_every_field(client):
    intent = client.v1.payment_intents.create(params=PARAMS)
    assert isinstance(intent, stripe.PaymentIntent)
    assert problems("payment_intent", intent.to_dict()) == []  # every property Stripe sends, as it sends it
    assert intent.capture_method == "automatic_async"  # Stripe's default since 2024-04-10
    assert re.fullmatch(r"pi_\w{20,}", intent.id)
    assert re.fullmatch(rf"{intent.id}_secret_\w+", intent.client_secret)
    assert (intent.status, intent.amount, intent.currency) == ("requires_payment_method", 4990, "chf")
    assert intent.payment_method_types == ["twint"]
    assert intent.metadata["order_id"] == "1042"
    assert intent.receipt_email == "kunde@example.ch"
    assert intent.latest_charge is None
    assert intent.next_action is None


def test_retrieve_returns_the_same_intent(client):
    created = client.v1.payment_intents.create(params=PARAMS)
    assert client.v1.payment_intents.retrieve(created.id) == created


def test_confirm_asks_for_the_twint_redirect(client):
    intent = client.v1.payment_intents.create(params=PARAMS)
    confirmed = client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    assert confirmed.status == "requires_action"
    assert confirmed.next_action.type == "redirect_to_url"
    assert confirmed.next_action.redirect_to_url.return_url == CONFIRM["return_url"]
    assert re.match(r"http://127\.0\.0\.1:\d+/twint/pi_", confirmed.next_action.redirect_to_url.url)
    assert confirmed.payment_method.startswith("pm_")


def test_authorized_payment_succeeds_with_a_charge(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    sandbox.authorize(intent.id)
    paid = client.v1.payment_intents.retrieve(intent.id)
    assert (paid.status, paid.amount_received, paid.next_action) == ("succeeded", 4990, None)
    assert paid.latest_charge.startswith("ch_")
    assert [e["type"] for e in sandbox.events_for(intent.id)] == [
        "payment_intent.created",
        "payment_intent.requires_action",
        "payment_intent.succeeded",
    ]


def test_failed_payment_can_be_confirmed_again(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    sandbox.fail(intent.id)
    failed = client.v1.payment_intents.retrieve(intent.id)
    assert (failed.status, failed.payment_method, failed.next_action) == ("requires_payment_method", None, None)
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"
    assert failed.last_payment_error.payment_method.type == "twint"
    again = client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    assert again.status == "requires_action"
    assert again.last_payment_error is None
    assert [e["type"] for e in sandbox.events_for(intent.id)] == [
        "payment_intent.created",
        "payment_intent.requires_action",
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
    ]


def test_cancel_only_from_the_states_stripe_allows(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS)
    canceled = client.v1.payment_intents.cancel(intent.id, params={"cancellation_reason": "abandoned"})
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    assert canceled.canceled_at is not None
    assert [e["type"] for e in sandbox.events_for(intent.id)][-1] == "payment_intent.canceled"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.cancel(intent.id)
    assert caught.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    assert caught.value.code == "payment_intent_unexpected_state"
    paid = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(paid.id, params=CONFIRM)
    sandbox.authorize(paid.id)
    with pytest.raises(stripe.InvalidRequestError, match="status of succeeded"):
        client.v1.payment_intents.cancel(paid.id)


@pytest.mark.parametrize(
    ("change", "code", "param"),
    [
        ({"amount": None}, "parameter_missing", "amount"),
        ({"currency": None}, "parameter_missing", "currency"),
        ({"amount": 49}, "amount_too_small", "amount"),
        ({"amount": 500_001}, "amount_too_large", "amount"),
        ({"shoe_size": "42"}, "parameter_unknown", "shoe_size"),
        ({"payment_method_types": ["twint"]}, "payment_method_types_no_longer_supported", "payment_method_types"),
        ({"capture_method": "manual"}, None, "capture_method"),
        ({"currency": "eur"}, None, "allowed_payment_method_types"),
    ],
)
def test_create_refuses_what_stripe_refuses(client, change, code, param):
    params = {k: v for k, v in {**PARAMS, **change}.items() if v is not None}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.create(params=params)
    assert caught.value.http_status == 400
    assert (caught.value.code, caught.value.param) == (code, param)


def test_payment_method_types_still_works_on_an_older_api_version(sandbox):
    older = stripe.StripeClient(SECRET_KEY, base_addresses={"api": sandbox.url}, stripe_version="2026-06-24.dahlia")
    params = {k: v for k, v in PARAMS.items() if k != "allowed_payment_method_types"}
    intent = older.v1.payment_intents.create(params={**params, "payment_method_types": ["twint"]})
    assert intent.payment_method_types == ["twint"]


def test_a_missing_intent_is_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.retrieve("pi_doesnotexist")
    assert (caught.value.http_status, caught.value.code, caught.value.param) == (404, "resource_missing", "intent")


@pytest.mark.parametrize("key", ["sk_live_" + "x" * 16, "garbage", "rk_test_abcdef"])
def test_keys_other_than_the_sandbox_test_keys_are_refused(sandbox, key):
    with pytest.raises(stripe.AuthenticationError) as caught:
        stripe.StripeClient(key, base_addresses={"api": sandbox.url}).v1.payment_intents.create(params=PARAMS)
    assert caught.value.http_status == 401


def test_no_key_at_all_is_refused(sandbox):
    response = httpx.post(f"{sandbox.url}/v1/payment_intents", data={"amount": "4990", "currency": "chf"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["request-id"].startswith("req_")


def test_a_publishable_key_sees_only_its_subset_with_the_client_secret(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS)
    response = httpx.get(
        f"{sandbox.url}/v1/payment_intents/{intent.id}",
        params={"key": PUBLISHABLE_KEY, "client_secret": intent.client_secret},
    )
    assert response.status_code == 200
    body = response.json()
    assert "metadata" not in body and "customer" not in body
    assert body["status"] == "requires_payment_method" and body["client_secret"] == intent.client_secret
    wrong = httpx.get(
        f"{sandbox.url}/v1/payment_intents/{intent.id}",
        params={"key": PUBLISHABLE_KEY, "client_secret": intent.id + "_secret_wrong"},
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "client_secret"


def test_stripe_js_confirms_with_the_publishable_key(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS)
    response = httpx.post(
        f"{sandbox.url}/v1/payment_intents/{intent.id}/confirm",
        data={
            "key": PUBLISHABLE_KEY,
            "client_secret": intent.client_secret,
            "payment_method_data[type]": "twint",
            "payment_method_data[billing_details][name]": "Anna Muster",
            "return_url": "http://shop.example/return",
        },
    )
    assert response.status_code == 200
    assert response.json()["next_action"]["type"] == "redirect_to_url"
    assert "metadata" not in response.json()


def test_a_publishable_key_cannot_create_or_cancel(client, sandbox):
    publishable = stripe.StripeClient(PUBLISHABLE_KEY, base_addresses={"api": sandbox.url})
    before = len(sandbox.store.events())
    with pytest.raises(stripe.AuthenticationError):
        publishable.v1.payment_intents.create(params=PARAMS)
    assert len(sandbox.store.events()) == before  # nothing was created
    intent = client.v1.payment_intents.create(params=PARAMS)
    with pytest.raises(stripe.AuthenticationError):
        publishable.v1.payment_intents.cancel(intent.id)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_the_same_idempotency_key_replays_the_first_answer(client, sandbox):
    first = client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "order-1-pi-1"})
    second = client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "order-1-pi-1"})
    assert second.id == first.id
    raw = httpx.post(
        f"{sandbox.url}/v1/payment_intents",
        headers={"Authorization": f"Bearer {SECRET_KEY}", "Idempotency-Key": "order-1-pi-1"},
        content="amount=4990&currency=chf&allowed_payment_method_types[0]=twint&metadata[order_id]=1042"
        "&description=Order+1042&receipt_email=kunde%40example.ch",
    )
    assert raw.headers["idempotent-replayed"] == "true"
    assert raw.json()["id"] == first.id
    assert len(sandbox.events_for(first.id)) == 1  # created once


def test_the_same_idempotency_key_with_other_parameters_is_an_idempotency_error(client):
    client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "order-2-pi-1"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.payment_intents.create(params={**PARAMS, "amount": 5990}, options={"idempotency_key": "order-2-pi-1"})
    assert caught.value.http_status == 400


def test_a_request_refused_by_validation_can_be_sent_again_with_its_key(client):
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create(params={**PARAMS, "amount": 10}, options={"idempotency_key": "order-3-pi-1"})
    intent = client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "order-3-pi-1"})
    assert intent.status == "requires_payment_method"


def test_events_are_retrievable_and_typed(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "order-4-pi-1"})
    (created,) = sandbox.events_for(intent.id)
    event = client.v1.events.retrieve(created["id"])
    assert isinstance(event, stripe.Event)
    assert (event.type, event.api_version) == ("payment_intent.created", "2026-10-28.endive")
    assert isinstance(event.data.object, stripe.PaymentIntent)
    assert event.data.object.id == intent.id
    assert event.request.idempotency_key == "order-4-pi-1"


def test_an_unknown_url_is_answered_as_stripe_does(sandbox):
    response = httpx.get(f"{sandbox.url}/v1/customers", headers={"Authorization": f"Bearer {SECRET_KEY}"})
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("Unrecognized request URL (GET: /v1/customers)")


@pytest.mark.anyio
async def test_the_async_client_works_the_same(sandbox):
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": sandbox.url})
    intent = await client.v1.payment_intents.create_async(params=PARAMS)
    confirmed = await client.v1.payment_intents.confirm_async(intent.id, params=CONFIRM)
    assert confirmed.status == "requires_action"
    assert (await client.v1.payment_intents.retrieve_async(intent.id)).status == "requires_action"
