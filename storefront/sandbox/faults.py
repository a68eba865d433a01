"""QA's switches: make webhooks late, doubled, out of order or lost, make the next API calls fail
(500, 429, hang, reset), make the customer never come back from TWINT, or set how long refunds
take and make the next one fail. Kept in the sandbox's
store, so every worker obeys the same switches; set from the control page, its JSON API or tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
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


def take_api_fault(store: SandboxStore) -> str | None:
    """The fault for this API call, counting it down; None when calls are served normally."""
    with store.transaction() as connection:
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
