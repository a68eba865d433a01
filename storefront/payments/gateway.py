"""The shop's side of Stripe: one place that builds the PaymentIntent parameters and talks to
Stripe (or the offline sandbox) through the official library, with explicit timeouts, bounded
retries and an idempotency key per order attempt (reference/stripe-twint.md §2.5, §4)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import stripe

from storefront.sandbox.app import MOUNT_PATH
from storefront.settings import Settings

logger = logging.getLogger("storefront.payments")

SANDBOX_SECRET_KEY = "sk_test_storefront_sandbox"  # noqa: S105 - the offline sandbox takes any test key
SANDBOX_PUBLISHABLE_KEY = "pk_test_storefront_sandbox"
TWINT_MAX = 500_000  # Rappen: TWINT through Stripe takes at most CHF 5'000 (reference/stripe-twint.md §1.1)
TIMEOUT_S = 10.0
MAX_NETWORK_RETRIES = 2  # StripeClient retries nothing unless told (stripe-twint.md §0.4)


class PaymentUnavailable(Exception):
    """Stripe could not be reached or refused for its own reasons; the order and cart are kept."""


@dataclass(frozen=True, slots=True)
class OrderForPayment:
    id: int
    number: str
    public_token: str
    total: int
    email: str
    attempt: int

    @property
    def idempotency_key(self) -> str:
        """The same for every retry of one attempt, and unique across shops and databases that share a
        Stripe account (order ids alone repeat after a database is set up anew)."""
        return f"order-{self.number}-{self.public_token[:12]}-pi-{self.attempt}"


class Gateway:
    def __init__(self, settings: Settings, api_base: str | None = None) -> None:
        self.settings = settings
        self.sandbox = settings.uses_sandbox
        self.publishable_key = SANDBOX_PUBLISHABLE_KEY if self.sandbox else settings.stripe_publishable_key
        base = api_base or (f"{settings.base_url}{MOUNT_PATH}" if self.sandbox else None)
        self.client = stripe.StripeClient(
            SANDBOX_SECRET_KEY if self.sandbox else settings.stripe_secret_key,
            base_addresses={"api": base} if base else None,
            max_network_retries=MAX_NETWORK_RETRIES,
            http_client=stripe.HTTPXClient(timeout=TIMEOUT_S, allow_sync_methods=True),
        )

    @property
    def stripe_js_url(self) -> str:
        return f"{MOUNT_PATH}/js/stripe.js" if self.sandbox else "https://js.stripe.com/endive/stripe.js"

    @staticmethod
    def intent_params(order: OrderForPayment, environment: str) -> dict[str, Any]:
        """The amount comes from the order in the database, never from the browser."""
        return {
            "amount": order.total,
            "currency": "chf",
            "allowed_payment_method_types": ["twint"],
            "metadata": {"order_id": str(order.id), "order_number": order.number, "environment": environment},
            "description": f"Order {order.number}",
            "receipt_email": order.email,
        }

    async def create_intent(self, order: OrderForPayment) -> stripe.PaymentIntent:
        try:
            return await self.client.v1.payment_intents.create_async(
                params=self.intent_params(order, self.settings.env),
                options={"idempotency_key": order.idempotency_key},
            )
        except stripe.StripeError as error:
            logger.warning(
                "order %s: creating the PaymentIntent failed: %s %s",
                order.number,
                type(error).__name__,
                error.http_status,
            )
            raise PaymentUnavailable(str(type(error).__name__)) from error

    async def retrieve_intent(self, intent_id: str) -> stripe.PaymentIntent:
        try:
            return await self.client.v1.payment_intents.retrieve_async(intent_id)
        except stripe.StripeError as error:
            raise PaymentUnavailable(str(type(error).__name__)) from error

    async def cancel_intent(self, intent_id: str, reason: str = "abandoned") -> stripe.PaymentIntent:
        try:
            return await self.client.v1.payment_intents.cancel_async(intent_id, params={"cancellation_reason": reason})
        except stripe.StripeError as error:
            raise PaymentUnavailable(str(type(error).__name__)) from error
