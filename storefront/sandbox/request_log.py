"""The request log, as Stripe's dashboard shows it: every API request with its time, method, path,
status, request id, idempotency key, the kind of key it came with, and the PaymentIntent it was
about. Recorded by `ApiRecorder`, a middleware around the `/v1` API, which also gives every answer
Stripe's `Stripe-Version` header and turns whatever went wrong into Stripe's JSON error shape."""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from storefront.sandbox import objects
from storefront.sandbox.store import SandboxStore

_INTENT_IN_PATH = re.compile(r"^/v1/payment_intents/(pi_[A-Za-z0-9]+)")
_FIELDS = (
    "id",
    "at",
    "method",
    "path",
    "status",
    "request_id",
    "idempotency_key",
    "key_type",
    "payment_intent",
    "stripe_version",
)


def key_type(authorization: str, body: bytes, query: str) -> str:
    """`secret`, `publishable`, or `none`: which kind of key a request was made with."""
    key = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
    if not key:
        sent = dict(parse_qsl(query)) | dict(parse_qsl(body.decode("utf-8", "replace")))
        key = sent.get("key", "")
    if key.startswith(("sk_", "rk_")):
        return "secret"
    if key.startswith("pk_"):
        return "publishable"
    return "none"


def payment_intent_of(path: str, answer: bytes) -> str | None:
    """The PaymentIntent a request was about: named in its path, or the object it answered with."""
    named = _INTENT_IN_PATH.match(path)
    if named:
        return named.group(1)
    try:
        body = json.loads(answer)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if body.get("object") == "payment_intent":
        return str(body["id"])
    related = body.get("payment_intent")
    return related if isinstance(related, str) else None


def _plain(body: bytes, headers: dict[str, str]) -> bytes:
    """The answer as sent by the API, before a server around it compressed it."""
    if headers.get("content-encoding") == "gzip":
        try:
            return gzip.decompress(body)
        except (OSError, EOFError):
            return b""
    return body


def log_request(store: SandboxStore, entry: dict[str, Any]) -> None:
    with store.transaction() as connection:
        connection.execute(
            "INSERT INTO request_log (at, method, path, status, request_id, idempotency_key, key_type,"
            " payment_intent, stripe_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tuple(entry[name] for name in _FIELDS[1:]),
        )


def logged_requests(store: SandboxStore, payment_intent: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest requests first; with `payment_intent`, only those about it."""
    where, parameters = ("WHERE payment_intent = ?", (payment_intent,)) if payment_intent else ("", ())
    rows = store.rows(
        f"SELECT {', '.join(_FIELDS)} FROM request_log {where} ORDER BY id DESC LIMIT ?",  # noqa: S608 - fixed names
        (*parameters, limit),
    )
    return [dict(zip(_FIELDS, row, strict=True)) for row in rows]


class ApiRecorder:
    """Around the `/v1` API: records each request in the log and adds `Stripe-Version` (the version
    the request asked for, or the account's) to each answer."""

    def __init__(self, app: ASGIApp, store_of: Callable[[], SandboxStore]) -> None:
        self.app = app
        self.store = store_of()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        version = headers.get("stripe-version") or objects.API_VERSION
        sent = bytearray()
        answered = bytearray()
        status = 500
        answer_headers: dict[str, str] = {}

        async def receive_and_keep() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.request":
                sent.extend(message.get("body", b""))
            return message

        async def send_with_version(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                given = list(message.get("headers", []))
                answer_headers.update({bytes(n).decode().lower(): bytes(v).decode() for n, v in given})
                if "stripe-version" not in answer_headers:
                    given.append((b"stripe-version", version.encode()))
                message["headers"] = given
            elif message["type"] == "http.response.body":
                answered.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_and_keep, send_with_version)
        finally:
            path = scope["path"]
            path = path[path.index("/v1/") :] if "/v1/" in path else path
            query = scope.get("query_string", b"").decode("latin-1")
            log_request(
                self.store,
                {
                    "at": time.time(),
                    "method": scope.get("method", ""),
                    "path": path,
                    "status": status,
                    "request_id": answer_headers.get("request-id"),
                    "idempotency_key": headers.get("idempotency-key"),
                    "key_type": key_type(headers.get("authorization", ""), bytes(sent), query),
                    "payment_intent": payment_intent_of(path, _plain(bytes(answered), answer_headers)),
                    "stripe_version": version,
                },
            )
