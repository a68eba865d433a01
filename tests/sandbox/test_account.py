"""What a go-live check asks Stripe: the account (a Swiss company, CHF, and whether TWINT is
active) and the webhook endpoints, whose secret Stripe shows only when one is created."""

import asyncio

import pytest
import stripe

from storefront.sandbox.faults import set_switches
from tests.support.http import serve
from tests.support.sandbox import PARAMS, WebhookReceiver


def test_the_account_is_a_swiss_one_taking_twint_in_chf(client):
    account = client.v1.accounts.retrieve_current()
    assert isinstance(account, stripe.Account)
    assert (account.country, account.default_currency, account.charges_enabled) == ("CH", "chf", True)
    assert account.capabilities.twint_payments == "active"


@pytest.mark.parametrize("state", ["inactive", "pending"])
def test_a_switch_makes_twint_inactive_or_pending_for_the_go_live_check(client, sandbox, state):
    set_switches(sandbox.store, twint_capability=state)

    async def current():
        return await client.v1.accounts.retrieve_current_async()

    assert asyncio.run(current()).capabilities.twint_payments == state


@pytest.fixture
def own_endpoint_only(sandbox):
    """Endpoints made by a test are gone after it, so later tests' events go only where they did."""
    before = sandbox.store.setting("webhook_endpoints")
    yield
    with sandbox.store.transaction() as connection:
        sandbox.store.put_setting(connection, "webhook_endpoints", before)


def test_a_new_endpoint_shows_its_secret_once_and_gets_the_events_it_asked_for(
    client, sandbox, receiver, own_endpoint_only
):
    other = WebhookReceiver()
    with serve(other) as url:
        made = client.v1.webhook_endpoints.create(
            params={"url": f"{url}/hooks", "enabled_events": ["payment_intent.created"], "description": "back office"}
        )
        assert made.secret.startswith("whsec_")
        assert (made.status, made.enabled_events, made.url) == ("enabled", ["payment_intent.created"], f"{url}/hooks")
        listed = client.v1.webhook_endpoints.list()
        assert [e.id for e in listed.data][:1] == [made.id]  # newest first
        assert all("secret" not in e.to_dict() for e in listed.data)
        assert "secret" not in client.v1.webhook_endpoints.retrieve(made.id).to_dict()
        intent = client.v1.payment_intents.create(params=PARAMS)
        other.wait_for(1)
        body, headers = other.received[0]
        event = stripe.Webhook.construct_event(body.decode(), headers["stripe-signature"], made.secret)
        assert (event.type, event.data.object.id) == ("payment_intent.created", intent.id)
        receiver.wait_for(1)  # the sandbox's own endpoint gets it too, with its own secret
        client.v1.payment_intents.cancel(intent.id)
        receiver.wait_for(2)
        assert [e["type"] for e in other.events()] == ["payment_intent.created"]  # not the cancellation


def test_an_endpoint_needs_a_url_and_the_events_it_wants(client):
    with pytest.raises(stripe.InvalidRequestError) as no_events:
        client.v1.webhook_endpoints.create(params={"url": "https://shop.example.ch/webhooks/stripe"})
    assert no_events.value.param == "enabled_events"
    with pytest.raises(stripe.InvalidRequestError) as no_url:
        client.v1.webhook_endpoints.create(params={"url": "ftp://x", "enabled_events": ["*"]})
    assert no_url.value.param == "url"
