"""The sandbox account's rules: validation, the PaymentIntent status machine, refunds and the
events each change emits (https://docs.stripe.com/payments/paymentintents/lifecycle,
https://docs.stripe.com/api/events/types). Every change runs in
one store transaction, so several workers can share one sandbox file."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal, overload

from storefront.sandbox import objects
from storefront.sandbox.errors import StripeError, invalid
from storefront.sandbox.faults import Switches, read_switches
from storefront.sandbox.lists import LIST_PARAMS, created_filter, expand, expansions, page
from storefront.sandbox.store import SandboxStore
from storefront.sandbox.webhooks import add_endpoint, endpoints, enqueue_delivery

TWINT_MIN, TWINT_MAX = 50, 500_000  # CHF 0.50 .. CHF 5,000.00
CANCELLABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action")
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELLATION_REASONS = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
TWINT_REFUND_WINDOW_S = 180 * 24 * 3600  # TWINT payments can be refunded for 180 days
TRAINS = ("acacia", "basil", "clover", "dahlia", "endive")
_PAST = {
    "confirm": "confirmed",
    "cancel": "canceled",
    "authorize": "authorized",
    "fail": "failed",
    "update": "updated",
}

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
INTENT_EXPANSIONS = frozenset({"latest_charge", "payment_method"})
RETRIEVE_PARAMS = frozenset({"expand", "key", "client_secret"})
REFUND_PARAMS = frozenset(
    {
        "amount",
        "charge",
        "currency",
        "customer",
        "expand",
        "instructions_email",
        "metadata",
        "origin",
        "payment_intent",
        "reason",
        "refund_application_fee",
        "reverse_transfer",
    }
)


@dataclass(frozen=True)
class Call:
    """Who is calling and how: what the request headers said."""

    request_id: str | None  # None: no API request caused it (a refund settling, say)
    idempotency_key: str | None = None
    stripe_version: str = objects.API_VERSION
    public_base: str = ""  # where the sandbox's own pages are, for next_action URLs


def train_of(version: str) -> int:
    try:
        return TRAINS.index(version.rsplit(".", 1)[1])
    except (IndexError, ValueError):
        raise invalid(f"Invalid Stripe API version: {version}", param="Stripe-Version") from None


def check_params(params: dict[str, Any], allowed: frozenset[str]) -> None:
    for name in params:
        if name not in allowed:
            raise invalid(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


@overload
def parse_int(params: dict[str, Any], name: str, *, required: Literal[True]) -> int: ...
@overload
def parse_int(params: dict[str, Any], name: str, *, required: bool) -> int | None: ...
def parse_int(params: dict[str, Any], name: str, *, required: bool) -> int | None:
    raw = params.get(name)
    if raw is None:
        if required:
            raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
        return None
    if not isinstance(raw, str) or not raw.lstrip("-").isdigit():
        raise invalid(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name)
    return int(raw)


def _without_secret(configured: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in configured.items() if name != "secret"}


def redirect_token(intent: dict[str, Any]) -> str:
    """Only someone who was given the TWINT page's URL can act on it (derived from the client secret)."""
    return hashlib.sha256(intent["client_secret"].encode()).hexdigest()[:32]


class SandboxAccount:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    # --- reads ---------------------------------------------------------------------------------

    def retrieve(self, kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
        obj = self.store.get_event(object_id) if kind == "event" else self.store.get(object_id, kind)
        if obj is None:
            raise StripeError(
                404, f"No such {kind.replace('_', ' ')}: '{object_id}'", code="resource_missing", param=param
            )
        return obj

    def retrieve_expanded(
        self, kind: str, object_id: str, params: dict[str, Any], allowed: frozenset[str], param: str = "id"
    ) -> dict[str, Any]:
        check_params(params, RETRIEVE_PARAMS)
        paths = expansions(params, allowed)
        return expand(self.retrieve(kind, object_id, param), paths, self._find)

    def _find(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return self.store.get(object_id, kind)

    def account(self, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params, frozenset({"expand"}))
        return objects.account(read_switches(self.store).twint_capability)

    # --- webhook endpoints ---------------------------------------------------------------------

    def create_webhook_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        """Its secret is in this answer only, as Stripe shows it once."""
        check_params(params, frozenset({"url", "enabled_events", "description", "metadata", "api_version", "expand"}))
        url = params.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid("Invalid URL: must be an http(s) URL", code="url_invalid", param="url")
        events = params.get("enabled_events")
        if not isinstance(events, list) or not events or not all(isinstance(e, str) and e for e in events):
            raise invalid("Missing required param: enabled_events.", code="parameter_missing", param="enabled_events")
        return add_endpoint(
            self.store,
            url,
            events,
            description=params.get("description"),
            metadata=params.get("metadata"),
            api_version=params.get("api_version"),
        )

    def list_webhook_endpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params, LIST_PARAMS)
        shown = [_without_secret(e) for e in reversed(endpoints(self.store))]
        return page(shown, params, "/v1/webhook_endpoints")

    def retrieve_webhook_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        for configured in endpoints(self.store):
            if configured["id"] == endpoint_id:
                return _without_secret(configured)
        raise StripeError(404, f"No such webhook endpoint: '{endpoint_id}'", code="resource_missing", param="id")

    # --- lists ---------------------------------------------------------------------------------

    def list_events(self, params: dict[str, Any]) -> dict[str, Any]:
        """Events newest first; `type` may end in `*` (`payment_intent.*`), `types[]` names several."""
        check_params(params, LIST_PARAMS | {"type", "types", "delivery_success"})
        one, several = params.get("type"), params.get("types")
        if one and several:
            raise invalid("You may only specify one of these parameters: type, types.")
        wanted = [one] if isinstance(one, str) else several if isinstance(several, list) else None
        created = created_filter(params)
        found = [
            event
            for _seq, event in reversed(self.store.events())
            if created(event) and (wanted is None or any(fnmatchcase(event["type"], kind) for kind in wanted))
        ]
        return page(found, params, "/v1/events")

    def list_payment_intents(self, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params, LIST_PARAMS | {"customer"})
        paths = expansions(params, frozenset(f"data.{path}" for path in INTENT_EXPANSIONS))
        created = created_filter(params)
        found = [
            intent
            for intent in self.store.all_of("payment_intent")
            if created(intent) and params.get("customer") in (None, intent["customer"])
        ]
        return expand(page(found, params, "/v1/payment_intents"), paths, self._find)

    def list_refunds(self, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params, LIST_PARAMS | {"payment_intent", "charge"})
        paths = expansions(params, frozenset({"data.charge"}))
        created = created_filter(params)
        found = [
            refund
            for refund in self.store.all_of("refund")
            if created(refund)
            and params.get("payment_intent") in (None, refund["payment_intent"])
            and params.get("charge") in (None, refund["charge"])
        ]
        return expand(page(found, params, "/v1/refunds"), paths, self._find)

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

    # --- refunds -------------------------------------------------------------------------------

    def create_refund(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        check_params(params, REFUND_PARAMS)
        amount = parse_int(params, "amount", required=False)
        if amount is not None and amount <= 0:
            raise invalid("Invalid positive integer", code="parameter_invalid_integer", param="amount")
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise invalid(f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason")
        if not params.get("payment_intent") and not params.get("charge"):
            raise invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
                param="payment_intent",
            )
        with self.store.transaction() as connection:
            if params.get("charge"):
                paid = self._load(connection, params["charge"], "charge", param="charge")
            else:
                intent = self._load(connection, params["payment_intent"], param="payment_intent")
                if not intent["latest_charge"] or intent["status"] != "succeeded":
                    raise StripeError(
                        400,
                        f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                        param="payment_intent",
                    )
                paid = self._load(connection, intent["latest_charge"], "charge", param="charge")
            if objects.now() - paid["created"] > TWINT_REFUND_WINDOW_S:
                raise StripeError(
                    400,
                    f"Charge {paid['id']} is too old to be refunded: TWINT payments can be refunded for 180 days.",
                    code="charge_expired_for_refund",
                    param="charge",
                )
            # Refunds still pending count too: together they never exceed what was paid.
            remaining = paid["amount"] - paid["amount_refunded"] - self._pending_refunds(connection, paid["id"])
            if remaining <= 0:
                raise StripeError(
                    400,
                    f"Charge {paid['id']} has already been refunded.",
                    code="charge_already_refunded",
                    param="charge",
                )
            amount = remaining if amount is None else amount
            if amount > remaining:
                raise StripeError(
                    400,
                    f"Refund amount (CHF {amount / 100:.2f}) is greater than unrefunded amount "
                    f"on charge (CHF {remaining / 100:.2f})",
                    code="amount_too_large",
                    param="amount",
                )
            created = objects.refund(paid, amount, params)  # pending: Stripe settles it later
            self.store.put(connection, created)
            switches = Switches(**self.store.read_setting(connection, "switches", {}))
            outcome = "fail" if switches.refund_fails else "succeed"
            if switches.refund_fails:  # the next refund only
                switches.refund_fails = False
                self.store.put_setting(connection, "switches", asdict(switches))
            connection.execute(
                "INSERT INTO refund_due (refund_id, due, outcome) VALUES (?, ?, ?)",
                (created["id"], time.time() + switches.refund_delay_s, outcome),
            )
            self._emit(connection, "refund.created", created, call)
        return created

    def settle_due_refunds(self) -> int:
        """Settle the pending refunds whose time has come: `succeeded` (the charge shows the money
        given back), or `failed` when QA asked for it. No API request causes these events."""
        unprompted = Call(request_id=None)
        with self.store.transaction() as connection:
            due = connection.execute(
                "SELECT refund_id, outcome FROM refund_due WHERE due <= ? ORDER BY due LIMIT 20", (time.time(),)
            ).fetchall()
            for refund_id, outcome in due:
                connection.execute("DELETE FROM refund_due WHERE refund_id = ?", (refund_id,))
                refund = self._load(connection, refund_id, "refund", param="refund")
                if refund["status"] != "pending":
                    continue
                if outcome == "fail":
                    refund.update(
                        status="failed", failure_reason="declined", failure_balance_transaction=objects.new_id("txn_3")
                    )
                    self.store.put(connection, refund)
                    self._emit(connection, "refund.updated", refund, unprompted, {"status": "pending"})
                    self._emit(connection, "refund.failed", refund, unprompted)
                    continue
                paid = self._load(connection, refund["charge"], "charge", param="charge")
                previous_charge = {"amount_refunded": paid["amount_refunded"], "refunded": paid["refunded"]}
                paid.update(
                    amount_refunded=paid["amount_refunded"] + refund["amount"],
                    refunded=paid["amount_refunded"] + refund["amount"] == paid["amount"],
                )
                refund["status"] = "succeeded"
                self.store.put(connection, refund)
                self.store.put(connection, paid)
                self._emit(connection, "refund.updated", refund, unprompted, {"status": "pending"})
                self._emit(connection, "charge.refunded", paid, unprompted, previous_charge)
        return len(due)

    @staticmethod
    def _pending_refunds(connection: sqlite3.Connection, charge_id: str) -> int:
        total = connection.execute(
            "SELECT COALESCE(SUM(json_extract(body, '$.amount')), 0) FROM object WHERE kind = 'refund'"
            " AND json_extract(body, '$.charge') = ? AND json_extract(body, '$.status') = 'pending'",
            (charge_id,),
        ).fetchone()[0]
        return int(total)

    # --- helpers -------------------------------------------------------------------------------

    def _load(
        self, connection: sqlite3.Connection, object_id: str, kind: str = "payment_intent", param: str = "intent"
    ) -> dict[str, Any]:
        row = connection.execute("SELECT body FROM object WHERE id = ? AND kind = ?", (object_id, kind)).fetchone()
        if row is None:
            raise StripeError(
                404, f"No such {kind.replace('_', ' ')}: '{object_id}'", code="resource_missing", param=param
            )
        obj: dict[str, Any] = json.loads(row[0])
        return obj

    @staticmethod
    def _unexpected_state(intent: dict[str, Any], action: str, allowed: tuple[str, ...]) -> StripeError:
        return StripeError(
            400,
            f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}. Only a "
            f"PaymentIntent with one of the following statuses may be {_PAST[action]}: {', '.join(allowed)}.",
            code="payment_intent_unexpected_state",
            extra={"payment_intent": intent},
        )

    def _emit(
        self,
        connection: sqlite3.Connection,
        event_type: str,
        obj: dict[str, Any],
        call: Call,
        previous_attributes: dict[str, Any] | None = None,
    ) -> None:
        """Record the event and queue its webhook deliveries, in the change's own transaction."""
        event = objects.event(
            event_type,
            json.loads(json.dumps(obj)),
            request_id=call.request_id,
            idempotency_key=call.idempotency_key,
            previous_attributes=previous_attributes,
        )
        enqueue_delivery(connection, event, self.store.add_event(connection, event))
