"""Stripe events about a test's orders, signed as Stripe signs them, delivered to the shop."""

from __future__ import annotations

import json
import time
from typing import Any

from httpx import Response
from litestar.testing import TestClient

from storefront.orders.placing import PlacedOrder
from storefront.orders.provider import order_reference
from storefront.sandbox.webhooks import signature_header


def event(
    order: PlacedOrder, event_type: str, status: str, event_id: str | None = None, **intent: Any
) -> dict[str, Any]:
    """A Stripe event whose object is the order's PaymentIntent `pi_for_<order id>`."""
    return {
        "id": event_id or f"evt_{event_type}_{order.id}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {
            "object": {
                "id": f"pi_for_{order.id}",
                "object": "payment_intent",
                "amount": order.total,
                "currency": "chf",
                "status": status,
                "last_payment_error": None,
                "metadata": {
                    "order_id": str(order.id),
                    "order_ref": order_reference(order.public_token),
                    "environment": "development",
                },
                **intent,
            }
        },
    }


def deliver(client: TestClient[Any], body: dict[str, Any], secret: str, *, timestamp: int | None = None) -> Response:
    payload = json.dumps(body)
    return client.post(
        "/webhooks/stripe",
        content=payload.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": signature_header(payload, secret, timestamp)},
    )
