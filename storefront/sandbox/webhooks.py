"""Signed webhook deliveries, as Stripe sends them (https://docs.stripe.com/webhooks): each event is
POSTed to the endpoint with `Stripe-Signature: t=…,v1=…` (HMAC-SHA256 of "{t}.{body}" with the
endpoint's whsec_ secret), asynchronously, retried with back-off on anything but 2xx, each attempt
signed afresh. The fault switches decide when, how often and in which order."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from storefront.sandbox.faults import Switches, effective_switches
from storefront.sandbox.store import SandboxStore

logger = logging.getLogger("storefront.sandbox")

MAX_ATTEMPTS = 4  # Stripe's sandbox retries "three times over the course of a few hours"
RETRY_BASE_S = 2.0  # here: 2 s, 4 s, 8 s, so a test sees the retries
OUT_OF_ORDER_WINDOW_S = 1.5  # out of order: events wait until none came for this long, then go newest first
STUCK_AFTER_S = 60.0  # a delivery claimed by a worker that died is taken up again
TIMEOUT_S = 10.0


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signed}"


def endpoints(store: SandboxStore) -> list[dict[str, Any]]:
    """The webhook endpoints, the sandbox's own first (the one `configure_endpoint` points)."""
    return _read_endpoints(store.setting("webhook_endpoints"), store.setting("webhook_endpoint"))


def _read_endpoints(records: Any, older_single: Any) -> list[dict[str, Any]]:
    if records is None and older_single:  # a sandbox file from before there could be several
        records = [_record(older_single["url"], older_single["secret"], endpoint_id="we_sandbox")]
    return list(records or [])


def _record(url: str, secret: str, *, endpoint_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": endpoint_id or "we_" + secrets.token_hex(12),
        "object": "webhook_endpoint",
        "api_version": fields.get("api_version"),
        "application": None,
        "created": int(time.time()),
        "description": fields.get("description"),
        "enabled_events": fields.get("enabled_events") or ["*"],
        "livemode": False,
        "metadata": fields.get("metadata") or {},
        "secret": secret,
        "status": "enabled",
        "url": url,
    }


def endpoint(store: SandboxStore) -> dict[str, Any] | None:
    """The sandbox's own endpoint: where `make run` sends the shop its events."""
    found = endpoints(store)
    return found[0] if found else None


def configure_endpoint(store: SandboxStore, url: str, secret: str | None = None) -> dict[str, Any]:
    """Point the sandbox's own endpoint at `url`; keeps the secret unless a new one is given."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("the webhook endpoint must be an http(s) URL")
    if secret is not None and not secret.startswith("whsec_"):
        raise ValueError("the webhook secret must start with whsec_")
    with store.transaction() as connection:
        found = _read_endpoints(
            store.read_setting(connection, "webhook_endpoints"), store.read_setting(connection, "webhook_endpoint")
        )
        current = found[0] if found else _record(url, new_secret(), endpoint_id="we_sandbox")
        configured = {**current, "url": url, "secret": secret or current["secret"]}
        store.put_setting(connection, "webhook_endpoints", [configured, *found[1:]])
    return configured


def add_endpoint(store: SandboxStore, url: str, enabled_events: list[str], **fields: Any) -> dict[str, Any]:
    """A further endpoint, as `POST /v1/webhook_endpoints` makes one, with a secret of its own."""
    created = _record(url, new_secret(), enabled_events=enabled_events, **fields)
    with store.transaction() as connection:
        found = _read_endpoints(
            store.read_setting(connection, "webhook_endpoints"), store.read_setting(connection, "webhook_endpoint")
        )
        store.put_setting(connection, "webhook_endpoints", [*found, created])
    return created


def _wants(configured: dict[str, Any], event_type: str) -> bool:
    return configured.get("status") == "enabled" and any(
        pattern in ("*", event_type) for pattern in configured.get("enabled_events", ["*"])
    )


def enqueue_delivery(connection: sqlite3.Connection, event: dict[str, Any], seq: int) -> None:
    """Called in the transaction that records the event, so no event is lost between the two."""
    targets = [
        configured["url"]
        for configured in _read_endpoints(
            SandboxStore.read_setting(connection, "webhook_endpoints"),
            SandboxStore.read_setting(connection, "webhook_endpoint"),
        )
        if _wants(configured, event["type"])
    ]
    if not targets:
        return
    obj = event["data"]["object"]
    switches = effective_switches(
        connection, obj["id"] if obj["object"] == "payment_intent" else obj.get("payment_intent")
    )
    now = time.time()
    due = now + switches.webhook_delay_s + (OUT_OF_ORDER_WINDOW_S if switches.webhook_out_of_order else 0)
    state = {"never": "pending", "all": "dropped", "on_demand": "held"}[switches.webhook_drop]
    if switches.webhook_out_of_order:
        # Hold everything until the events have been quiet for a moment, then send newest first.
        connection.execute("UPDATE delivery SET due = ? WHERE state = 'pending' AND due < ?", (due, due))
    for url in targets:
        for _copy in range(2 if switches.webhook_duplicate else 1):
            connection.execute(
                "INSERT INTO delivery (event_id, event_seq, endpoint, state, due, updated) VALUES (?, ?, ?, ?, ?, ?)",
                (event["id"], seq, url, state, due, now),
            )


def release_held(store: SandboxStore) -> int:
    """Deliver the deliveries that were held back ("drop on demand"), now."""
    with store.transaction() as connection:
        return connection.execute(
            "UPDATE delivery SET state = 'pending', due = ?, updated = ? WHERE state = 'held'",
            (time.time(), time.time()),
        ).rowcount


def deliveries(store: SandboxStore, limit: int = 100) -> list[dict[str, Any]]:
    rows = store.rows(
        "SELECT d.id, d.event_id, e.type, json_extract(e.body, '$.data.object.id'), d.endpoint, d.state,"
        " d.attempts, d.last_status, d.last_error, d.due, d.updated"
        " FROM delivery d JOIN event e ON e.id = d.event_id ORDER BY d.id DESC LIMIT ?",
        (limit,),
    )
    keys = (
        "id",
        "event_id",
        "type",
        "object_id",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "due",
        "updated",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


_CLAIM_SQL = (
    "UPDATE delivery SET state = 'sending', updated = ? WHERE id IN ("
    " SELECT id FROM delivery WHERE (state = 'pending' AND due <= ?) OR (state = 'sending' AND updated < ?)"
    " ORDER BY event_seq {order}, id LIMIT 20) RETURNING id, event_id, event_seq, endpoint, attempts"
)
# Two fixed statements (oldest or newest event first); nothing from outside is formatted in.
_CLAIM = {order: _CLAIM_SQL.replace("{order}", order) for order in ("ASC", "DESC")}


class WebhookSender:
    """Runs in every process that serves the sandbox; claims are atomic, so each delivery goes once.
    `chores` are the account's own timed work (settling refunds), run in the same loop before each
    round of deliveries, so the events they cause go out in that round."""

    def __init__(self, store: SandboxStore, poll_s: float = 0.1, chores: Sequence[Callable[[], int]] = ()) -> None:
        self.store = store
        self.poll_s = poll_s
        self.chores = tuple(chores)
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="sandbox-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                sent = sum(chore() for chore in self.chores)
                sent += await self.deliver_due()
            except Exception:
                logger.exception("sandbox webhooks: a round failed")
                sent = 0
            if not sent:
                await asyncio.sleep(self.poll_s)

    async def deliver_due(self) -> int:
        batch = self._claim()
        for delivery in batch:
            await self._attempt(delivery)
        return len(batch)

    def _claim(self) -> list[dict[str, Any]]:
        now = time.time()
        with self.store.transaction() as connection:
            switches = Switches(**self.store.read_setting(connection, "switches", {}))
            order = "DESC" if switches.webhook_out_of_order else "ASC"
            rows = connection.execute(_CLAIM[order], (now, now, now - STUCK_AFTER_S)).fetchall()
        batch = [dict(zip(("id", "event_id", "event_seq", "endpoint", "attempts"), row, strict=True)) for row in rows]
        return sorted(batch, key=lambda d: (d["event_seq"], d["id"]), reverse=order == "DESC")

    async def _attempt(self, delivery: dict[str, Any]) -> None:
        event = self.store.get_event(delivery["event_id"])
        configured = next((e for e in endpoints(self.store) if e["url"] == delivery["endpoint"]), {})
        payload = json.dumps(event, indent=2)  # Stripe sends pretty-printed JSON; only the raw bytes are signed
        status, error = None, None
        try:
            assert self._client is not None
            response = await self._client.post(
                delivery["endpoint"],
                content=payload.encode(),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    "Stripe-Signature": signature_header(payload, configured.get("secret", "")),
                },
            )
            status = response.status_code
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"
        attempts = delivery["attempts"] + 1
        now = time.time()
        if status is not None and 200 <= status < 300:
            state, due = "delivered", now
        elif attempts >= MAX_ATTEMPTS:
            state, due = "failed", now
        else:
            state, due = "pending", now + RETRY_BASE_S * 2 ** (attempts - 1)
        with self.store.transaction() as connection:
            connection.execute(
                "UPDATE delivery SET state = ?, due = ?, attempts = ?, last_status = ?, last_error = ?,"
                " updated = ? WHERE id = ?",
                (state, due, attempts, status, error, now, delivery["id"]),
            )
