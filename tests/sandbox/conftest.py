"""A sandbox served over real HTTP (uvicorn in a thread), for the official `stripe` library."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import pytest
import stripe
import uvicorn

from storefront.sandbox.account import Call, SandboxAccount
from storefront.sandbox.app import create_sandbox_app
from storefront.sandbox.faults import Switches, set_switches
from storefront.sandbox.store import SandboxStore
from storefront.sandbox.webhooks import configure_endpoint

SECRET_KEY = "sk_test_storefront"
PUBLISHABLE_KEY = "pk_test_storefront"
WEBHOOK_SECRET = "whsec_" + "5" * 32


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


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """`app` over real HTTP on a free loopback port, in a thread, for the length of the block."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    app = create_sandbox_app()
    with serve(app) as url:
        yield Sandbox(url=url, store=app.state.sandbox_store)


@pytest.fixture(autouse=True)
def clean_switches(sandbox: Sandbox) -> Iterator[None]:
    """Switches are shared by everything the sandbox serves: each test starts and ends without any."""
    set_switches(sandbox.store, **asdict(Switches()))
    yield
    set_switches(sandbox.store, **asdict(Switches()))


class WebhookReceiver:
    """A shop's webhook endpoint as the sandbox meets it: records each POST, answers as told."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.answers: list[int] = []  # statuses to give, in turn; 200 once they run out

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.received.append((body, {k.decode(): v.decode() for k, v in scope["headers"]}))
        status = self.answers.pop(0) if self.answers else 200
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    def events(self) -> list[dict]:
        return [json.loads(body) for body, _headers in self.received]

    def wait_for(self, count: int, seconds: float = 20) -> list[dict]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()


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
