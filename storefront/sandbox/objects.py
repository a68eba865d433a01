"""Stripe's object shapes, as Stripe's published API description gives them (written down in
`schema.json` beside this file, which a contract test holds every object to): a property Stripe
sends as null is null here, one it leaves out while unset is left out."""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

_ALPHABET = string.ascii_letters + string.digits
API_VERSION = "2026-10-28.endive"


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


def payment_intent(params: dict[str, Any], payment_method_types: list[str]) -> dict[str, Any]:
    intent_id = new_id("pi_3")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "allowed_payment_method_types": params.get("allowed_payment_method_types"),
        "amount": params["amount"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": params.get("capture_method", "automatic_async"),  # Stripe's default since 2024-04-10
        "client_secret": f"{intent_id}_secret_{new_id('', 25)}",
        "confirmation_method": params.get("confirmation_method", "automatic"),
        "created": now(),
        "currency": params["currency"],
        "customer": params.get("customer"),
        "customer_account": None,
        "description": params.get("description"),
        "excluded_payment_method_types": params.get("excluded_payment_method_types"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": params.get("metadata", {}),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {kind: {} for kind in payment_method_types},
        "payment_method_types": payment_method_types,
        "payment_record": None,
        "processing": None,
        "receipt_email": params.get("receipt_email"),
        "review": None,
        "setup_future_usage": params.get("setup_future_usage"),
        "shipping": params.get("shipping"),
        "statement_descriptor": params.get("statement_descriptor"),
        "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


# What a publishable key sees (@stripe/stripe-js types/api/payment-intents.d.ts): no metadata, no customer.
PUBLISHABLE_FIELDS = (
    "id",
    "object",
    "amount",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "description",
    "last_payment_error",
    "livemode",
    "next_action",
    "payment_method",
    "payment_method_types",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "status",
)


def publishable_view(intent: dict[str, Any]) -> dict[str, Any]:
    return {field: intent[field] for field in PUBLISHABLE_FIELDS}


def twint_payment_method(billing_details: dict[str, Any] | None) -> dict[str, Any]:
    details = billing_details or {}
    address = details.get("address") or {}
    return {
        "id": new_id("pm_1"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {
                field: address.get(field) for field in ("city", "country", "line1", "line2", "postal_code", "state")
            },
            "email": details.get("email"),
            "name": details.get("name"),
            "phone": details.get("phone"),
            "tax_id": details.get("tax_id"),
        },
        "created": now(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "twint": {},
        "type": "twint",
    }


def charge(intent: dict[str, Any], payment_method: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": new_id("ch_3"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"],
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": new_id("txn_3"),
        "billing_details": (payment_method or {}).get("billing_details"),
        "calculated_statement_descriptor": "STOREFRONT",
        "captured": True,
        "created": now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": intent["metadata"],
        "on_behalf_of": None,
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "not_assessed",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "payment_method_details": {"type": "twint", "twint": {}},
        "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(charge_object: dict[str, Any], amount: int, params: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = {
        "id": new_id("re_3"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn_3"),
        "charge": charge_object["id"],
        "created": now(),
        "currency": charge_object["currency"],
        "customer": charge_object["customer"],
        "customer_account": None,
        "destination_details": {"type": "twint", "twint": {}},
        "metadata": params.get("metadata", {}),
        "payment_intent": charge_object["payment_intent"],
        "payment_method": charge_object["payment_method"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "pending",
        "transfer_reversal": None,
    }
    if params.get("instructions_email"):  # Stripe leaves it out unless it was given
        created["instructions_email"] = params["instructions_email"]
    return created


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    request_id: str | None,
    idempotency_key: str | None,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": new_id("evt_3"),
        "object": "event",
        "api_version": API_VERSION,
        "created": now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }


ACCOUNT_ID = "acct_1StorefrontSandbox"


def account(
    twint_capability: str,
    email: str | None = None,
    *,
    charges_enabled: bool = True,
    country: str = "CH",
    currency: str = "chf",
) -> dict[str, Any]:
    """The sandbox's Stripe account: a Swiss company taking TWINT in CHF (unless told otherwise)."""
    active = twint_capability == "active"
    return {
        "id": ACCOUNT_ID,
        "object": "account",
        "business_profile": {"mcc": "5999", "name": "Storefront", "support_email": email, "url": None},
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active", "twint_payments": twint_capability},
        "charges_enabled": charges_enabled,
        "country": country,
        "created": 1735689600,
        "default_currency": currency,
        "details_submitted": True,
        "email": email,
        "metadata": {},
        "payouts_enabled": True,
        "requirements": {
            "currently_due": [] if active else ["twint_payments"],
            "disabled_reason": None if active else "requirements.pending_verification",
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [] if twint_capability != "pending" else ["twint_payments"],
        },
        "settings": {"payments": {"statement_descriptor": "STOREFRONT"}},
        "type": "standard",
    }
