"""What the order lifecycle needs from a payment provider, in the lifecycle's own words. The Stripe
adapter (`storefront.payments`) implements it; the lifecycle never imports Stripe."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal, Protocol

from storefront.orders.models import PaymentStatus, RefundStatus


class PaymentUnavailable(Exception):
    """The provider could not be reached or refused for its own reasons; the order and cart are kept."""


class PaymentMovedOn(PaymentUnavailable):
    """The provider refused a change because the payment is no longer in a state that allows it."""


def order_reference(public_token: str) -> str:
    """What a payment's metadata carries besides the order's id, so that a payment the shop has no
    record of (its worker stopped before recording it) is accepted only if this database asked for
    it: derived from the order's secret token, which never leaves the shop, so another shop or
    database on the same Stripe account, with the same order ids, cannot produce it."""
    return hashlib.sha256(f"storefront-order:{public_token}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """The one payment the provider is asked to prepare for an order: the amount is the order's."""

    order_id: int
    number: str
    public_token: str
    total: int
    email: str
    attempt: int

    @property
    def order_ref(self) -> str:
        return order_reference(self.public_token)

    @property
    def idempotency_key(self) -> str:
        """The same for every retry of one attempt, and unique across shops and databases that share a
        provider account (order ids alone repeat after a database is set up anew)."""
        return f"order-{self.number}-{self.public_token[:12]}-pi-{self.attempt}"


@dataclass(frozen=True, slots=True)
class IntentState:
    """A payment as the provider reports it, mapped to the shop's payment states by the adapter."""

    id: str
    status: PaymentStatus  # PENDING, FAILED, SUCCEEDED or CANCELED
    amount: int
    currency: str
    order_id: int | None  # the order the payment says it is for (its metadata)
    order_ref: str | None = None  # and the proof that this shop asked for it (`order_reference`)
    cancellable: bool = False  # still waiting for the customer, so it may be called off
    handed_over: bool = False  # the customer pressed "Pay" and is in TWINT (or TWINT is deciding)
    error_code: str | None = None
    error_message: str | None = None
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Money to give back from one payment; the key is the shop's record of the refund, so a double
    click or a retry never refunds twice."""

    intent_id: str
    amount: int
    reason: Literal["requested_by_customer", "duplicate"]
    idempotency_key: str
    order_id: int
    order_number: str
    record_key: str  # the shop's record of the refund, written into its metadata


@dataclass(frozen=True, slots=True)
class RefundState:
    id: str
    intent_id: str | None
    amount: int
    status: RefundStatus  # PENDING, SUCCEEDED, FAILED or CANCELED
    failure_reason: str | None = None
    record_key: str | None = None  # the shop's record it was asked for with; None when made elsewhere


class RefundRefused(Exception):
    """The provider refused the refund for a reason that will not change by asking again."""


class PaymentProvider(Protocol):
    async def create_intent(self, request: PaymentRequest) -> IntentState: ...

    async def retrieve_intent(self, intent_id: str) -> IntentState: ...

    async def abandon_intent(self, intent_id: str) -> IntentState:
        """Call off a payment the customer left waiting (its reason: abandoned)."""
        ...

    async def hand_over_to_twint(self, intent_id: str, return_url: str, name: str, email: str) -> str:
        """Confirm the payment with TWINT from the server and return the address that takes the
        customer to TWINT (for a browser that runs no JavaScript)."""
        ...

    async def create_refund(self, request: RefundRequest) -> RefundState: ...

    async def retrieve_refund(self, refund_id: str) -> RefundState: ...
