"""A sandbox served over real HTTP (uvicorn in a thread), for the official `stripe` library."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

import pytest
import stripe

from storefront.sandbox.app import create_sandbox_app
from storefront.sandbox.faults import Switches, clear_intent_switches, set_switches
from storefront.sandbox.webhooks import configure_endpoint
from tests.support.http import serve
from tests.support.sandbox import SECRET_KEY, WEBHOOK_SECRET, Sandbox, WebhookReceiver


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    app = create_sandbox_app()
    with serve(app) as url:
        yield Sandbox(url=url, store=app.state.sandbox_store)


@pytest.fixture(autouse=True)
def clean_switches(sandbox: Sandbox) -> Iterator[None]:
    """Switches are shared by everything the sandbox serves: each test starts and ends without any."""
    set_switches(sandbox.store, **asdict(Switches()))
    clear_intent_switches(sandbox.store)
    yield
    set_switches(sandbox.store, **asdict(Switches()))
    clear_intent_switches(sandbox.store)


@pytest.fixture
def receiver(sandbox: Sandbox) -> Iterator[WebhookReceiver]:
    """A fresh endpoint for this test; the sandbox's webhooks go there."""
    endpoint = WebhookReceiver()
    with serve(endpoint) as url:
        configure_endpoint(sandbox.store, url + "/webhooks/stripe", WEBHOOK_SECRET)
        yield endpoint
        configure_endpoint(sandbox.store, "http://127.0.0.1:9/nowhere")


@pytest.fixture
def client(sandbox: Sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": sandbox.url})
