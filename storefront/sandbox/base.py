"""What every part of the sandbox's account shares: who is calling (`Call`), parameter checks,
reading objects, and recording the events each change emits (in the change's own transaction)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal, overload

from storefront.sandbox import objects
from storefront.sandbox.errors import StripeError, invalid
from storefront.sandbox.lists import expand, expansions
from storefront.sandbox.store import SandboxStore
from storefront.sandbox.webhooks import enqueue_delivery

TRAINS = ("acacia", "basil", "clover", "dahlia", "endive")
_PAST = {
    "confirm": "confirmed",
    "cancel": "canceled",
    "authorize": "authorized",
    "fail": "failed",
    "update": "updated",
}

INTENT_EXPANSIONS = frozenset({"latest_charge", "payment_method"})
RETRIEVE_PARAMS = frozenset({"expand", "key", "client_secret"})


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


class AccountBase:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

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
