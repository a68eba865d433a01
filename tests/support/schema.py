"""Holds an object the sandbox sent to Stripe's published shape (`storefront/sandbox/schema.json`):
the properties it always has, those it has only once set (never null), what may be null, and the
values an enum may take."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "storefront" / "sandbox" / "schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
KINDS: dict[str, dict[str, Any]] = SCHEMA["kinds"]


def problems(kind: str, obj: dict[str, Any]) -> list[str]:
    """What in `obj` differs from the shape of `kind`; empty when it is Stripe's."""
    shape = KINDS[kind]
    always, when_set, nullable = set(shape["always"]), set(shape["when_set"]), set(shape["nullable"])
    found = [f"{kind}: missing {name}" for name in sorted(always - set(obj))]
    found += [f"{kind}: unknown {name}" for name in sorted(set(obj) - always - when_set)]
    found += [
        f"{kind}: {name} is null"
        for name, value in sorted(obj.items())
        if value is None and (name in when_set or (name in always and name not in nullable))
    ]
    found += [
        f"{kind}: {name} = {obj[name]!r} is not one of {allowed}"
        for name, allowed in shape.get("enums", {}).items()
        if obj.get(name) is not None and obj[name] not in allowed
    ]
    return found


def kind_of(obj: dict[str, Any]) -> str:
    return str(obj["object"])
