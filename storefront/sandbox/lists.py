"""Stripe's lists and expansions: `{"object": "list", "data": […], "has_more": …, "url": …}`, newest
first, paged with `limit` (1 to 100, default 10), `starting_after` and `ending_before`, filtered by
`created` (a timestamp, or `gt`/`gte`/`lt`/`lte`); and `expand[]`, which puts the object itself
where its id was (https://docs.stripe.com/api/pagination, https://docs.stripe.com/expand)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storefront.sandbox.errors import StripeError, invalid

LIST_PARAMS = frozenset({"limit", "starting_after", "ending_before", "created", "expand", "key"})
_BOUNDS: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda value, bound: value > bound,
    "gte": lambda value, bound: value >= bound,
    "lt": lambda value, bound: value < bound,
    "lte": lambda value, bound: value <= bound,
}


def _integer(raw: Any, param: str) -> int:
    if not isinstance(raw, str) or not raw.lstrip("-").isdigit():
        raise invalid(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=param)
    return int(raw)


def created_filter(params: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """Whether an object's `created` is within what `created` asks for."""
    asked = params.get("created")
    if asked is None:
        return lambda _obj: True
    if isinstance(asked, str):
        exactly = _integer(asked, "created")
        return lambda obj: bool(obj["created"] == exactly)
    if not isinstance(asked, dict) or not asked or set(asked) - set(_BOUNDS):
        raise invalid("Invalid created: use a timestamp or gt, gte, lt, lte", param="created")
    bounds = [(_BOUNDS[name], _integer(value, f"created[{name}]")) for name, value in asked.items()]
    return lambda obj: all(holds(obj["created"], bound) for holds, bound in bounds)


def page(items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """One page of `items` (newest first) as Stripe's list object."""
    limit = 10 if params.get("limit") is None else _integer(params["limit"], "limit")
    if not 1 <= limit <= 100:
        raise invalid("Invalid limit: must be between 1 and 100", param="limit")
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise invalid("You may only specify one of these parameters: ending_before, starting_after.")
    ids = [item["id"] for item in items]
    for cursor, name in ((after, "starting_after"), (before, "ending_before")):
        if cursor and cursor not in ids:
            raise StripeError(400, f"No such object: '{cursor}'", code="resource_missing", param=name)
    if after:
        rest = items[ids.index(after) + 1 :]
        data, has_more = rest[:limit], len(rest) > limit
    elif before:
        rest = items[: ids.index(before)]
        data, has_more = rest[-limit:], len(rest) > limit
    else:
        data, has_more = items[:limit], len(items) > limit
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def expansions(params: dict[str, Any], allowed: frozenset[str]) -> list[str]:
    asked = params.get("expand") or []
    if isinstance(asked, str):
        asked = [asked]
    if not isinstance(asked, list):
        raise invalid("Invalid array", param="expand")
    for path in asked:
        if path not in allowed:
            raise invalid(f"This property cannot be expanded ({path}).", param="expand")
    return [str(path) for path in asked]


def expand(obj: dict[str, Any], paths: list[str], load: Callable[[str, str], dict[str, Any] | None]) -> dict[str, Any]:
    """`obj` with each of `paths` (`latest_charge`, `payment_method`, or `data.…` in a list) replaced
    by the object its id names; `load(kind, id)` reads one."""
    expanded = dict(obj)
    for path in paths:
        head, _, rest = path.partition(".")
        if head == "data" and rest and expanded.get("object") == "list":
            expanded["data"] = [expand(item, [rest], load) for item in expanded["data"]]
            continue
        value = expanded.get(head)
        if isinstance(value, str):
            kind = {"latest_charge": "charge", "payment_method": "payment_method", "charge": "charge"}[head]
            expanded[head] = load(kind, value) or value
    return expanded
