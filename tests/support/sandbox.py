"""The offline Stripe sandbox as tests meet it: served over real HTTP, with its account at hand to
play the customer's part, a count of the API calls it answered, and a stand-in webhook endpoint."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from storefront.sandbox.account import SandboxAccount
from storefront.sandbox.base import Call
from storefront.sandbox.store import SandboxStore

SECRET_KEY = "sk_test_storefront"
PUBLISHABLE_KEY = "pk_test_storefront"
WEBHOOK_SECRET = "whsec_" + "5" * 32
PARAMS = {
    "amount": 4990,
    "currency": "chf",
    "allowed_payment_method_types": ["twint"],
    "metadata": {"order_id": "1042"},
    "description": "Order 1042",
    "receipt_email": "kunde@example.ch",
}
CONFIRM = {
    "payment_method_data": {"type": "twint", "billing_details": {"name": "Anna Muster", "email": "a@example.ch"}},
    "return_url": "http://shop.example/checkout/return?order=1042",
}


class CountingApp:
    """Wraps an ASGI app and counts the HTTP requests it answers, as "GET /v1/payment_intents/…"."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/v1/payment_intents/"):
                path = "/v1/payment_intents/" + "/".join(["…", *path.split("/")[4:]])
            self.calls[f"{scope['method']} {path}"] += 1
        await self.app(scope, receive, send)


@dataclass
class Sandbox:
    url: str
    store: SandboxStore
    counter: CountingApp | None = field(default=None, repr=False)

    @property
    def account(self) -> SandboxAccount:
        return SandboxAccount(self.store)

    def customer_confirms(self, intent_id: str) -> None:
        """What Stripe.js does when the customer presses "Pay with TWINT"."""
        self.account.confirm_payment_intent(
            intent_id, {"payment_method_data": {"type": "twint"}, "return_url": "http://shop/return"}, Call("req_test")
        )

    def authorize(self, intent_id: str) -> None:
        """What "Authorize test payment" on the TWINT page does."""
        self.account.authorize(intent_id, Call(request_id="req_test"))

    def fail(self, intent_id: str) -> None:
        """What "Fail test payment" on the TWINT page does."""
        self.account.fail(intent_id, Call(request_id="req_test"))

    def events_for(self, object_id: str) -> list[dict[str, Any]]:
        return [event for _seq, event in self.store.events() if event["data"]["object"]["id"] == object_id]


class WebhookReceiver:
    """A shop's webhook endpoint as the sandbox meets it: records each POST, answers as told."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.answers: list[int] = []  # statuses to give, in turn; 200 once they run out

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
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

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body, _headers in self.received]

    def wait_for(self, count: int, seconds: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()
