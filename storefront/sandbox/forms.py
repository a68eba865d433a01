"""Stripe's form encoding: `a=1&b[c]=2&d[0]=x&d[]=y&e[f][g]=3` into nested dicts and lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class FormError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def parse_stripe_form(body: bytes | str) -> dict[str, Any]:
    text = body.decode() if isinstance(body, bytes) else body
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, strict_parsing=False):
        match = _KEY.match(key)
        if match is None:
            raise FormError(key, f"Invalid parameter name: {key}")
        path = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        _put(root, path, value, key)
    parameters = {name: _listify(value) for name, value in root.items()}  # the top level stays named
    return parameters


def _put(node: dict[str, Any], path: list[str], value: str, key: str) -> None:
    for depth, part in enumerate(path[:-1]):
        following = path[depth + 1]
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise FormError(key, f"Invalid hash or array: {key}")
        if following == "":  # a[]=x appends: give it the next free index
            path[depth + 1] = str(sum(1 for k in child if k.isdigit()))
        node = child
    last = path[-1]
    if last in node:
        raise FormError(key, f"Received the parameter {key} more than once")
    node[last] = value


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted
