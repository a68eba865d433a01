"""Every object the sandbox returns or sends has Stripe's published shape for the pinned API
version (storefront/sandbox/schema.json): through stripe-python (sync and async), plain HTTP
as Stripe.js calls, and webhook bodies; and that description is held against stripe-python's own
types, so a library upgrade shows what changed."""

import asyncio
import time

import httpx
import pytest
import stripe

from storefront.sandbox.faults import set_switches
from tests.support.sandbox import CONFIRM, PARAMS, PUBLISHABLE_KEY, SECRET_KEY
from tests.support.schema import KINDS, problems

LIBRARY_TYPES = {
    "payment_intent": stripe.PaymentIntent,
    "charge": stripe.Charge,
    "refund": stripe.Refund,
    "event": stripe.Event,
    "payment_method": stripe.PaymentMethod,
    "account": stripe.Account,
    "webhook_endpoint": stripe.WebhookEndpoint,
}


def settled(client, refund_id: str) -> stripe.Refund:
    deadline = time.monotonic() + 5
    while (refund := client.v1.refunds.retrieve(refund_id)).status == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    return refund


def test_every_object_of_every_kind_has_stripes_shape(client, sandbox, receiver):
    set_switches(sandbox.store, refund_delay_s=0)
    seen: list[tuple[str, dict]] = []

    def keep(kind: str, obj) -> None:
        seen.append((kind, obj if isinstance(obj, dict) else obj.to_dict()))

    created = client.v1.payment_intents.create(params=PARAMS)
    keep("payment_intent", created)
    keep("payment_intent", asyncio.run(client.v1.payment_intents.create_async(params=PARAMS)))
    keep("payment_intent", client.v1.payment_intents.confirm(created.id, params=CONFIRM))
    shown = httpx.get(
        f"{sandbox.url}/v1/payment_intents/{created.id}",
        params={"key": PUBLISHABLE_KEY, "client_secret": created.client_secret},
    )
    keep("publishable_payment_intent", shown.json())
    sandbox.authorize(created.id)
    paid = client.v1.payment_intents.retrieve(created.id, params={"expand": ["latest_charge", "payment_method"]})
    keep("payment_intent", client.v1.payment_intents.retrieve(created.id))
    keep("charge", paid.latest_charge)
    keep("payment_method", paid.payment_method)
    failing = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(failing.id, params=CONFIRM)
    sandbox.fail(failing.id)
    keep("payment_intent", client.v1.payment_intents.retrieve(failing.id))
    keep("payment_intent", client.v1.payment_intents.cancel(failing.id))
    refund = client.v1.refunds.create(params={"payment_intent": created.id, "amount": 100})
    keep("refund", refund)
    keep("refund", settled(client, refund.id))
    set_switches(sandbox.store, refund_fails=True)
    keep("refund", settled(client, client.v1.refunds.create(params={"payment_intent": created.id, "amount": 50}).id))
    keep("account", client.v1.accounts.retrieve_current())
    for listed in (
        client.v1.events.list(params={"limit": 100}),
        client.v1.payment_intents.list(),
        client.v1.refunds.list(params={"payment_intent": created.id}),
        client.v1.webhook_endpoints.list(),
    ):
        keep("list", listed)
        for item in listed.data:
            keep(item.object, item)
    receiver.wait_for(1)
    for body in receiver.events():  # what webhook bodies carry
        keep("event", body)
        keep(body["data"]["object"]["object"], body["data"]["object"])
    for _seq, event in sandbox.store.events():
        keep("event", event)
    for method, path, headers in (
        ("GET", "/v1/nowhere", {"Authorization": f"Bearer {SECRET_KEY}"}),
        ("GET", "/v1/payment_intents/pi_missing", {"Authorization": f"Bearer {SECRET_KEY}"}),
        ("GET", "/v1/payment_intents", {"Authorization": "Bearer sk_live_nothing"}),
        ("POST", "/v1/payment_intents", {"Authorization": f"Bearer {SECRET_KEY}"}),
    ):
        keep("error", httpx.request(method, sandbox.url + path, headers=headers).json()["error"])
    found = [problem for kind, obj in seen for problem in problems(kind, obj)]
    assert found == []
    assert {kind for kind, _obj in seen} >= set(KINDS) - {"webhook_endpoint"} | {"event", "charge"}


def test_a_new_webhook_endpoint_and_its_secret_have_stripes_shape(client, sandbox):
    before = sandbox.store.setting("webhook_endpoints")
    try:
        made = client.v1.webhook_endpoints.create(
            params={"url": "https://shop.example.ch/webhooks/stripe", "enabled_events": ["*"]}
        )
        assert problems("webhook_endpoint", made.to_dict()) == []
        assert problems("webhook_endpoint", client.v1.webhook_endpoints.retrieve(made.id).to_dict()) == []
    finally:
        with sandbox.store.transaction() as connection:
            sandbox.store.put_setting(connection, "webhook_endpoints", before)


@pytest.mark.parametrize("kind", sorted(LIBRARY_TYPES))
def test_the_description_names_what_stripe_python_knows(kind):
    """stripe-python's types are generated from Stripe's description: the properties here are
    theirs, except the few the published description does not have for this version."""
    known = set()
    for cls in reversed(LIBRARY_TYPES[kind].__mro__):
        known |= {name for name in getattr(cls, "__annotations__", {}) if not name.startswith("_")}
    known.discard("OBJECT_NAME")
    shape = KINDS[kind]
    described = set(shape["always"]) | set(shape["when_set"])
    assert described | set(shape.get("not_in_stripe", [])) == known
