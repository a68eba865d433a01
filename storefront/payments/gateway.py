"""The shop's client of Stripe (or of whatever `STRIPE_API_BASE` points at): it builds the
PaymentIntent parameters in one place and talks through the official library, with explicit
timeouts, bounded retries and the attempt's idempotency key (docs/payments.md, "Creating a
PaymentIntent" and "Retries and timeouts"). It answers in the lifecycle's words (`IntentState`)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import stripe
from stripe.params import PaymentIntentCreateParams, RefundCreateParams

from storefront import twint
from storefront.orders.models import PaymentStatus, RefundStatus
from storefront.orders.provider import (
    IntentState,
    PaymentMovedOn,
    PaymentRequest,
    PaymentUnavailable,
    RefundRefused,
    RefundRequest,
    RefundState,
)
from storefront.settings import Settings

logger = logging.getLogger("storefront.payments")

TIMEOUT_S = 10.0
MAX_NETWORK_RETRIES = 2  # StripeClient retries nothing unless told
_CANCELLABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"})


def intent_params(request: PaymentRequest, environment: str, shop: str) -> PaymentIntentCreateParams:
    """The amount comes from the order in the database, never from the browser. On Stripe's
    current API version TWINT is chosen with `allowed_payment_method_types`. The metadata names
    the shop (its address, for people reading Stripe's dashboard) and the order with a reference
    only this database can produce (webhooks for payments the shop has no record of need it)."""
    return {
        "amount": request.total,
        "currency": twint.CURRENCY,
        "allowed_payment_method_types": ["twint"],
        "metadata": {
            "order_id": str(request.order_id),
            "order_number": request.number,
            "order_ref": request.order_ref,
            "shop": shop,
            "environment": environment,
        },
        "description": f"Order {request.number}",
        "receipt_email": request.email,
    }


def intent_state(intent: stripe.PaymentIntent) -> IntentState:
    """What a PaymentIntent's Stripe status means for the shop (docs/payments.md, "PaymentIntent
    states and what they mean for an order"). Fields an event may leave out are read with `get`."""
    data = intent.to_dict()
    error = data.get("last_payment_error")
    if intent.status == "succeeded":
        status = PaymentStatus.SUCCEEDED
    elif intent.status == "canceled":
        status = PaymentStatus.CANCELED
    elif intent.status == "requires_payment_method" and error:
        status = PaymentStatus.FAILED
    else:
        status = PaymentStatus.PENDING
    metadata = data.get("metadata") or {}
    order_id = str(metadata.get("order_id", ""))
    order_ref = metadata.get("order_ref")
    message = (error.get("message") or "") if error else ""
    return IntentState(
        id=intent.id,
        status=status,
        amount=intent.amount,
        currency=intent.currency,
        order_id=int(order_id) if order_id.isdigit() and len(order_id) < 19 else None,
        order_ref=order_ref if isinstance(order_ref, str) else None,
        cancellable=intent.status in _CANCELLABLE,
        handed_over=intent.status in ("requires_action", "processing"),
        error_code=(error.get("code") or error.get("type")) if error else None,
        error_message=message[:500] or None,
        client_secret=data.get("client_secret"),
    )


def refund_params(request: RefundRequest, environment: str) -> RefundCreateParams:
    return {
        "payment_intent": request.intent_id,
        "amount": request.amount,
        "reason": request.reason,
        "metadata": {
            "order_id": str(request.order_id),
            "order_number": request.order_number,
            "environment": environment,
            "storefront_refund": request.record_key,
        },
    }


def refund_state(refund: stripe.Refund) -> RefundState:
    """A Refund's status as Stripe reports it (https://docs.stripe.com/api/refunds/object#refund_object-status);
    `requires_action` does not occur for TWINT and is read as pending."""
    data = refund.to_dict()
    try:
        status = RefundStatus(data.get("status") or "pending")
    except ValueError:
        status = RefundStatus.PENDING
    intent = data.get("payment_intent")
    return RefundState(
        id=refund.id,
        intent_id=intent if isinstance(intent, str) or intent is None else intent.get("id"),
        amount=int(data.get("amount") or 0),
        status=status if status != RefundStatus.REQUESTED else RefundStatus.PENDING,
        failure_reason=data.get("failure_reason"),
        record_key=(data.get("metadata") or {}).get("storefront_refund") or None,
    )


class StripeGateway:
    """The `PaymentProvider` of the order lifecycle, on Stripe."""

    def __init__(self, settings: Settings) -> None:
        self.environment = settings.env
        self.shop = urlsplit(settings.base_url).netloc or settings.base_url
        self.client = stripe.StripeClient(
            settings.stripe_secret_key or "",
            base_addresses={"api": settings.stripe_api_base},
            max_network_retries=MAX_NETWORK_RETRIES,
            http_client=stripe.HTTPXClient(timeout=TIMEOUT_S, allow_sync_methods=True),
        )
        self.configured = settings.stripe_secret_key is not None

    async def create_intent(self, request: PaymentRequest) -> IntentState:
        self._refuse_without_key()
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params=intent_params(request, self.environment, self.shop),
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as error:
            logger.warning(
                "order %s: creating the PaymentIntent failed: %s %s",
                request.number,
                type(error).__name__,
                error.http_status,
            )
            raise PaymentUnavailable(type(error).__name__) from error
        return intent_state(intent)

    async def retrieve_intent(self, intent_id: str) -> IntentState:
        self._refuse_without_key()
        try:
            return intent_state(await self.client.v1.payment_intents.retrieve_async(intent_id))
        except stripe.StripeError as error:
            raise PaymentUnavailable(type(error).__name__) from error

    async def abandon_intent(self, intent_id: str) -> IntentState:
        self._refuse_without_key()
        try:
            intent = await self.client.v1.payment_intents.cancel_async(
                intent_id, params={"cancellation_reason": "abandoned"}
            )
        except stripe.InvalidRequestError as error:  # e.g. paid meanwhile: it can no longer be cancelled
            raise PaymentMovedOn(type(error).__name__) from error
        except stripe.StripeError as error:
            raise PaymentUnavailable(type(error).__name__) from error
        return intent_state(intent)

    async def hand_over_to_twint(self, intent_id: str, return_url: str, name: str, email: str) -> str:
        """Stripe lets the server confirm a TWINT PaymentIntent with a return_url; the answer's
        next_action.redirect_to_url.url takes the customer to TWINT
        (https://docs.stripe.com/payments/twint/accept-a-payment)."""
        self._refuse_without_key()
        try:
            intent = await self.client.v1.payment_intents.confirm_async(
                intent_id,
                params={
                    "payment_method_data": {"type": "twint", "billing_details": {"name": name, "email": email}},
                    "return_url": return_url,
                },
            )
        except stripe.InvalidRequestError as error:  # paid or called off meanwhile
            raise PaymentMovedOn(type(error).__name__) from error
        except stripe.StripeError as error:
            raise PaymentUnavailable(type(error).__name__) from error
        action = intent.next_action
        if action is None or action.redirect_to_url is None or not action.redirect_to_url.url:
            raise PaymentMovedOn(f"no redirect to TWINT (status {intent.status})")
        return str(action.redirect_to_url.url)

    async def create_refund(self, request: RefundRequest) -> RefundState:
        self._refuse_without_key()
        try:
            refund = await self.client.v1.refunds.create_async(
                params=refund_params(request, self.environment),
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.InvalidRequestError as error:  # too much, too late, nothing left: asking again won't help
            logger.warning("order %s: refund refused: %s", request.order_number, error.user_message or error.code)
            raise RefundRefused(error.user_message or error.code or "refused") from error
        except stripe.StripeError as error:
            logger.warning(
                "order %s: creating the refund failed: %s %s",
                request.order_number,
                type(error).__name__,
                error.http_status,
            )
            raise PaymentUnavailable(type(error).__name__) from error
        return refund_state(refund)

    async def retrieve_refund(self, refund_id: str) -> RefundState:
        self._refuse_without_key()
        try:
            return refund_state(await self.client.v1.refunds.retrieve_async(refund_id))
        except stripe.StripeError as error:
            raise PaymentUnavailable(type(error).__name__) from error

    async def refunds_of(self, intent_id: str) -> list[RefundState]:
        """Every refund of a payment (a TWINT payment has a handful at most; one page of 100)."""
        self._refuse_without_key()
        try:
            found = await self.client.v1.refunds.list_async(params={"payment_intent": intent_id, "limit": 100})
        except stripe.StripeError as error:
            raise PaymentUnavailable(type(error).__name__) from error
        return [refund_state(refund) for refund in found.data]

    def _refuse_without_key(self) -> None:
        if not self.configured:
            logger.error("no STRIPE_SECRET_KEY is set: payments are unavailable")
            raise PaymentUnavailable("no STRIPE_SECRET_KEY")
