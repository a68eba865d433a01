"""A sandbox served over real HTTP (uvicorn in a thread), for the official `stripe` library."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import stripe
import uvicorn

from storefront.sandbox.account import Call, SandboxAccount
from storefront.sandbox.app import create_sandbox_app
from storefront.sandbox.store import SandboxStore

SECRET_KEY = "sk_test_storefront"
PUBLISHABLE_KEY = "pk_test_storefront"


@dataclass
class Sandbox:
    url: str
    store: SandboxStore

    @property
    def account(self) -> SandboxAccount:
        return SandboxAccount(self.store)

    def authorize(self, intent_id: str) -> None:
        """What "Authorize test payment" on the TWINT page does."""
        self.account.authorize(intent_id, Call(request_id="req_test"))

    def fail(self, intent_id: str) -> None:
        """What "Fail test payment" on the TWINT page does."""
        self.account.fail(intent_id, Call(request_id="req_test"))

    def events_for(self, object_id: str) -> list[dict]:
        return [event for _seq, event in self.store.events() if event["data"]["object"]["id"] == object_id]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    app = create_sandbox_app()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.02)
    yield Sandbox(url=f"http://127.0.0.1:{port}", store=app.state.sandbox_store)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(sandbox: Sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": sandbox.url})
