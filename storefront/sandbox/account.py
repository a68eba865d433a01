"""The sandbox's account: its PaymentIntents' rules and status machine, and the events each change
emits (https://docs.stripe.com/payments/paymentintents/lifecycle,
https://docs.stripe.com/api/events/types); refunds (refunds.py) and the reads a back office makes
(listings.py) are parts of the same account. Every change runs in one store transaction, so
several workers can share one sandbox file."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from storefront.sandbox import objects
from storefront.sandbox.base import INTENT_EXPANSIONS, TRAINS, Call, check_params, parse_int, train_of
from storefront.sandbox.errors import invalid
from storefront.sandbox.listings import Listings
from storefront.sandbox.lists import expand, expansions
from storefront.sandbox.refunds import Refunds

TWINT_MIN, TWINT_MAX = 50, 500_000  # CHF 0.50 .. CHF 5,000.00
CANCELLABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action")
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELLATION_REASONS = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")
CREATE_PARAMS = frozenset(
    {
        "allowed_payment_method_types",
        "amount",
        "amount_details",
        "application_fee_amount",
        "automatic_payment_methods",
        "capture_method",
        "confirm",
        "confirmation_method",
        "confirmation_token",
        "currency",
        "customer",
        "customer_account",
        "description",
        "error_on_requires_action",
        "excluded_payment_method_types",
        "expand",
        "hooks",
        "mandate",
        "mandate_data",
        "metadata",
        "off_session",
        "on_behalf_of",
        "payment_details",
        "payment_method",
        "payment_method_configuration",
        "payment_method_data",
        "payment_method_options",
        "radar_options",
        "receipt_email",
        "return_url",
        "setup_future_usage",
        "shipping",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_data",
        "transfer_group",
        "use_stripe_sdk",
    }
)
CONFIRM_PARAMS = frozenset(
    {
        "allowed_payment_method_types",
        "capture_method",
        "client_secret",
        "confirmation_token",
        "error_on_requires_action",
        "excluded_payment_method_types",
        "expand",
        "key",
        "mandate",
        "mandate_data",
        "off_session",
        "payment_details",
        "payment_method",
        "payment_method_data",
        "payment_method_options",
        "radar_options",
        "receipt_email",
        "return_url",
        "setup_future_usage",
        "shipping",
        "use_stripe_sdk",
    }
)
CANCEL_PARAMS = frozenset({"cancellation_reason", "expand"})
# What an update may change here; the shop's back office changes amounts, descriptions and metadata.
UPDATE_PARAMS = frozenset({"amount", "description", "expand", "metadata", "receipt_email"})
UPDATABLE = ("requires_payment_method", "requires_confirmation")  # before the customer confirms


def redirect_token(intent: dict[str, Any]) -> str:
    """Only someone who was given the TWINT page's URL can act on it (derived from the client secret)."""
    return hashlib.sha256(intent["client_secret"].encode()).hexdigest()[:32]


class SandboxAccount(Refunds, Listings):
    """The sandbox's one account: its PaymentIntents here, refunds and reads in their own parts."""

    # --- PaymentIntents ------------------------------------------------------------------------

    def create_payment_intent(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        check_params({k: v for k, v in params.items() if k != "payment_method_types"}, CREATE_PARAMS)
        amount = parse_int(params, "amount", required=True)
        currency = params.get("currency")
        if not currency:
            raise invalid("Missing required param: currency.", code="parameter_missing", param="currency")
        currency = currency.lower()
        params = {**params, "amount": amount, "currency": currency}
        methods = self._payment_method_types(params, call)
        if "twint" in methods:
            if params.get("capture_method") == "manual":
                raise invalid(
                    "The payment method type `twint` does not support manual capture.", param="capture_method"
                )
            if amount < TWINT_MIN:
                raise invalid("Amount must be at least CHF 0.50", code="amount_too_small", param="amount")
            if amount > TWINT_MAX:
                raise invalid(
                    "Amount must be no more than CHF 5,000.00 for twint", code="amount_too_large", param="amount"
                )
        intent = objects.payment_intent(params, methods)
        with self.store.transaction() as connection:
            self._emit(connection, "payment_intent.created", intent, call)
            if params.get("confirm") == "true":
                intent = self._confirm(connection, intent, params, call)
            self.store.put(connection, intent)
        return intent

    def _payment_method_types(self, params: dict[str, Any], call: Call) -> list[str]:
        if "payment_method_types" in params:
            if train_of(call.stripe_version) >= TRAINS.index("endive"):
                raise invalid(
                    "The parameter payment_method_types is no longer supported on this API version. "
                    "Use allowed_payment_method_types instead.",
                    code="payment_method_types_no_longer_supported",
                    param="payment_method_types",
                )
            requested = params["payment_method_types"]
            if not isinstance(requested, list) or not requested:
                raise invalid("Invalid array", code="parameter_invalid_empty", param="payment_method_types")
            if "twint" in requested and params["currency"] != "chf":
                raise invalid(
                    f"The currency provided ({params['currency']}) is invalid for one or more payment "
                    "method types (twint).",
                    param="currency",
                )
            return list(requested)
        allowed = params.get("allowed_payment_method_types")
        if allowed is not None and not isinstance(allowed, list):
            raise invalid("Invalid array", param="allowed_payment_method_types")
        # Incompatible methods are filtered out silently (changelog dahlia/2026-07-29).
        compatible = ["twint"] if params["currency"] == "chf" else []
        methods = [kind for kind in (allowed or compatible) if kind in compatible]
        if not methods:
            raise invalid(
                "None of the payment method types allowed for this PaymentIntent can be used with "
                f"currency {params['currency']}.",
                param="allowed_payment_method_types",
            )
        return methods

    def update_payment_intent(self, intent_id: str, params: dict[str, Any], call: Call) -> dict[str, Any]:
        """Change an intent the customer has not confirmed yet (a corrected amount, a description,
        metadata: an empty value removes a key). Stripe sends no event for it."""
        check_params(params, UPDATE_PARAMS)
        paths = expansions(params, INTENT_EXPANSIONS)
        amount = parse_int(params, "amount", required=False)
        with self.store.transaction() as connection:
            intent = self._load(connection, intent_id)
            if intent["status"] not in UPDATABLE:
                raise self._unexpected_state(intent, "update", UPDATABLE)
            if amount is not None:
                if "twint" in intent["payment_method_types"] and not TWINT_MIN <= amount <= TWINT_MAX:
                    raise invalid(
                        "Amount must be between CHF 0.50 and CHF 5,000.00 for twint",
                        code="amount_too_small" if amount < TWINT_MIN else "amount_too_large",
                        param="amount",
                    )
                intent["amount"] = amount
            metadata = params.get("metadata")
            if metadata is not None:
                if not isinstance(metadata, dict):
                    raise invalid("Invalid object", param="metadata")
                merged = {**intent["metadata"], **metadata}
                intent["metadata"] = {key: value for key, value in merged.items() if value != ""}
            for name in ("description", "receipt_email"):
                if name in params:
                    intent[name] = params[name] or None
            self.store.put(connection, intent)
        return expand(intent, paths, self._find)

    def confirm_payment_intent(self, intent_id: str, params: dict[str, Any], call: Call) -> dict[str, Any]:
        check_params(params, CONFIRM_PARAMS)
        with self.store.transaction() as connection:
            intent = self._load(connection, intent_id)
            intent = self._confirm(connection, intent, params, call)
            self.store.put(connection, intent)
        return intent

    def _confirm(
        self, connection: sqlite3.Connection, intent: dict[str, Any], params: dict[str, Any], call: Call
    ) -> dict[str, Any]:
        if intent["status"] not in CONFIRMABLE:
            raise self._unexpected_state(intent, "confirm", CONFIRMABLE)
        data = params.get("payment_method_data")
        if params.get("payment_method"):
            method = self._load(connection, params["payment_method"], "payment_method", param="payment_method")
        elif isinstance(data, dict) and data.get("type"):
            if data["type"] not in intent["payment_method_types"]:
                raise invalid(
                    f"The PaymentMethod provided ({data['type']}) is not allowed for this PaymentIntent.",
                    code="payment_intent_incompatible_payment_method",
                    param="payment_method_data[type]",
                )
            method = objects.twint_payment_method(data.get("billing_details"))
            self.store.put(connection, method)
        else:
            raise invalid(
                "You must provide a payment method (payment_method or payment_method_data[type]).",
                code="parameter_missing",
                param="payment_method_data",
            )
        return_url = params.get("return_url")
        if not return_url:
            raise invalid(
                "A return_url is required to confirm a twint PaymentIntent.",
                code="parameter_missing",
                param="return_url",
            )
        for name in ("receipt_email", "shipping", "setup_future_usage"):
            if name in params:
                intent[name] = params[name]
        intent.update(
            payment_method=method["id"],
            status="requires_action",
            last_payment_error=None,
            next_action={
                "type": "redirect_to_url",
                "redirect_to_url": {
                    "url": f"{call.public_base}/twint/{intent['id']}?token={redirect_token(intent)}",
                    "return_url": return_url,
                },
            },
        )
        self._emit(connection, "payment_intent.requires_action", intent, call)
        return intent

    def cancel_payment_intent(self, intent_id: str, params: dict[str, Any], call: Call) -> dict[str, Any]:
        check_params(params, CANCEL_PARAMS)
        reason = params.get("cancellation_reason")
        if reason is not None and reason not in CANCELLATION_REASONS:
            raise invalid(
                f"Invalid cancellation_reason: must be one of {', '.join(CANCELLATION_REASONS)}",
                param="cancellation_reason",
            )
        with self.store.transaction() as connection:
            intent = self._load(connection, intent_id)
            if intent["status"] not in CANCELLABLE:
                raise self._unexpected_state(intent, "cancel", CANCELLABLE)
            intent.update(status="canceled", canceled_at=objects.now(), cancellation_reason=reason, next_action=None)
            self.store.put(connection, intent)
            self._emit(connection, "payment_intent.canceled", intent, call)
        return intent

    # --- what the TWINT page does ----------------------------------------------------------------

    def authorize(self, intent_id: str, call: Call) -> dict[str, Any]:
        """What "Authorize test payment" does: requires_action → succeeded, with a charge."""
        with self.store.transaction() as connection:
            intent, method = self._waiting_for_twint(connection, intent_id, "authorize")
            paid = objects.charge(intent, method)
            intent.update(
                status="succeeded", amount_received=intent["amount"], latest_charge=paid["id"], next_action=None
            )
            self.store.put(connection, paid)
            self.store.put(connection, intent)
            self._emit(connection, "charge.succeeded", paid, call)
            self._emit(connection, "payment_intent.succeeded", intent, call)
        return intent

    def fail(self, intent_id: str, call: Call) -> dict[str, Any]:
        """What "Fail test payment" does: requires_action → requires_payment_method, last_payment_error set."""
        with self.store.transaction() as connection:
            intent, method = self._waiting_for_twint(connection, intent_id, "fail")
            intent.update(
                status="requires_payment_method",
                payment_method=None,
                next_action=None,
                last_payment_error={
                    "code": "payment_intent_authentication_failure",
                    "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
                    "message": "The provided PaymentMethod has failed authentication. You can provide "
                    "payment_method_data or a new PaymentMethod to attempt to fulfill this "
                    "PaymentIntent again.",
                    "payment_method": method,
                    "payment_method_type": "twint",
                    "type": "invalid_request_error",
                },
            )
            self.store.put(connection, intent)
            self._emit(connection, "payment_intent.payment_failed", intent, call)
        return intent

    def _waiting_for_twint(
        self, connection: sqlite3.Connection, intent_id: str, action: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        intent = self._load(connection, intent_id)
        if intent["status"] != "requires_action":
            raise self._unexpected_state(intent, action, ("requires_action",))
        return intent, self._load(connection, intent["payment_method"], "payment_method", param="payment_method")
