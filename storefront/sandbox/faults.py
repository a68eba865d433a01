"""QA's switches: make webhooks late, doubled, out of order or lost, make the next API calls fail
(500, 429, hang, reset), make the customer never come back from TWINT, or set how long refunds
take and make the next one fail; the webhook and API switches also for one PaymentIntent alone. Kept in the sandbox's
store, so every worker obeys the same switches; set from the control page, its JSON API or tests."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from storefront.sandbox.store import SandboxStore

CAPABILITY_STATES = ("active", "inactive", "pending")
API_FAULTS = ("none", "error_500", "rate_limit", "rate_limit_retry", "hang", "reset")
DROP_MODES = ("never", "all", "on_demand")


@dataclass
class Switches:
    webhook_delay_s: float = 0.0  # every delivery waits this long
    webhook_duplicate: bool = False  # every event is delivered twice
    webhook_out_of_order: bool = False  # events are held for a window and sent newest first
    webhook_drop: str = "never"  # "all": never delivered; "on_demand": kept until released
    api_fault: str = "none"
    api_fault_count: int = 0  # how many of the next API calls get the fault
    hang_s: float = 30.0  # how long a "hang" lasts (past the shop's client timeout)
    customer_never_returns: bool = False  # TWINT authorises but does not send the customer back
    refund_delay_s: float = 3.0  # a refund stays pending this long, then settles
    refund_fails: bool = False  # the next refund fails instead of settling
    twint_capability: str = "active"  # what GET /v1/account says of capabilities.twint_payments
    # and of the account itself, so a go-live check can be shown an account that is not ready
    charges_enabled: bool = True
    account_country: str = "CH"
    account_currency: str = "chf"

    def check(self) -> None:
        if self.api_fault not in API_FAULTS:
            raise ValueError(f"api_fault must be one of {', '.join(API_FAULTS)}")
        if self.twint_capability not in CAPABILITY_STATES:
            raise ValueError(f"twint_capability must be one of {', '.join(CAPABILITY_STATES)}")
        if self.webhook_drop not in DROP_MODES:
            raise ValueError(f"webhook_drop must be one of {', '.join(DROP_MODES)}")
        for name in ("webhook_delay_s", "api_fault_count", "hang_s", "refund_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


# What QA may set for one PaymentIntent alone, so journeys against one shared shop do not meet.
INTENT_SWITCHES = ("webhook_delay_s", "webhook_duplicate", "webhook_drop", "api_fault", "api_fault_count", "hang_s")


def read_switches(store: SandboxStore) -> Switches:
    return Switches(**store.setting("switches", {}))


def set_switches(store: SandboxStore, **changes: Any) -> Switches:
    known = {field.name: field.type for field in fields(Switches)}
    unknown = set(changes) - set(known)
    if unknown:
        raise ValueError(f"unknown switch(es): {', '.join(sorted(unknown))}")
    with store.transaction() as connection:
        current = Switches(**store.read_setting(connection, "switches", {}))
        for name, value in changes.items():
            default = getattr(Switches(), name)
            setattr(current, name, type(default)(value) if not isinstance(default, bool) else _flag(value))
        current.check()
        store.put_setting(connection, "switches", asdict(current))
    return current


def effective_switches(connection: sqlite3.Connection, intent_id: str | None) -> Switches:
    """The switches for what concerns one PaymentIntent: the global ones, with the intent's own over them."""
    switches = Switches(**SandboxStore.read_setting(connection, "switches", {}))
    own = SandboxStore.read_setting(connection, "intent_switches", {}).get(intent_id or "", {})
    return replace(switches, **own)


def intent_switches(store: SandboxStore) -> dict[str, dict[str, Any]]:
    """Every PaymentIntent's own switches (only those set for it)."""
    found: dict[str, dict[str, Any]] = store.setting("intent_switches", {})
    return found


def set_intent_switches(store: SandboxStore, intent_id: str, **changes: Any) -> Switches:
    """Set switches for one PaymentIntent (its webhooks late, twice or never; its next API calls
    failing); the others keep the global ones. Answers the switches now in force for it."""
    unknown = set(changes) - set(INTENT_SWITCHES)
    if unknown:
        raise ValueError(f"not a switch for one PaymentIntent: {', '.join(sorted(unknown))}")
    if not intent_id.startswith("pi_"):
        raise ValueError("a PaymentIntent id starts with pi_")
    with store.transaction() as connection:
        every = store.read_setting(connection, "intent_switches", {})
        own = dict(every.get(intent_id, {}))
        for name, value in changes.items():
            default = getattr(Switches(), name)
            own[name] = type(default)(value) if not isinstance(default, bool) else _flag(value)
        replace(Switches(), **own).check()
        every[intent_id] = own
        store.put_setting(connection, "intent_switches", every)
        return effective_switches(connection, intent_id)


def clear_intent_switches(store: SandboxStore) -> None:
    with store.transaction() as connection:
        store.put_setting(connection, "intent_switches", {})


def take_api_fault(store: SandboxStore, intent_id: str | None = None) -> str | None:
    """The fault for this API call (about `intent_id`, if it names one), counting it down; None when
    calls are served normally. An intent's own fault comes before the global one."""
    with store.transaction() as connection:
        every = store.read_setting(connection, "intent_switches", {})
        own = every.get(intent_id or "", {})
        if own.get("api_fault", "none") != "none" and own.get("api_fault_count", 0) > 0:
            own["api_fault_count"] -= 1
            fault = str(own["api_fault"])
            if own["api_fault_count"] == 0:
                own["api_fault"] = "none"
            store.put_setting(connection, "intent_switches", every)
            return fault
        switches = Switches(**store.read_setting(connection, "switches", {}))
        if switches.api_fault == "none" or switches.api_fault_count <= 0:
            return None
        switches.api_fault_count -= 1
        fault = switches.api_fault
        if switches.api_fault_count == 0:
            switches.api_fault = "none"
        store.put_setting(connection, "switches", asdict(switches))
    return fault


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in {"1", "true", "on", "yes"}
