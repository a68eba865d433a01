"""The sandbox's state: Stripe objects, idempotency records and events, in SQLite (a file that
survives restarts and is shared by several workers, or memory for tests)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS object (id TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, started REAL NOT NULL,
    status INTEGER, body TEXT
);
CREATE TABLE IF NOT EXISTS event (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
    type TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS setting (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS delivery (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, event_seq INTEGER NOT NULL,
    endpoint TEXT NOT NULL, state TEXT NOT NULL, due REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER, last_error TEXT, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_due ON delivery (state, due);
CREATE TABLE IF NOT EXISTS request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER NOT NULL, request_id TEXT, idempotency_key TEXT, key_type TEXT NOT NULL,
    payment_intent TEXT, stripe_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS request_log_intent ON request_log (payment_intent);
CREATE TABLE IF NOT EXISTS refund_due (refund_id TEXT PRIMARY KEY, due REAL NOT NULL, outcome TEXT NOT NULL);
"""

# Stripe keeps keys "at least 24 hours"; an unfinished request's key is freed after a minute so a
# crashed worker does not block a retry forever.
IDEMPOTENCY_TTL_S = 24 * 3600
IN_FLIGHT_TTL_S = 60


class SandboxStore:
    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        self._lock = threading.RLock()
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.executescript(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One writer at a time, across threads and worker processes."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def get(self, object_id: str, kind: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT body FROM object WHERE id = ? AND kind = ?", (object_id, kind)
            ).fetchone()
        return json.loads(row[0]) if row else None

    @staticmethod
    def put(connection: sqlite3.Connection, obj: dict[str, Any]) -> None:
        connection.execute(
            # An upsert keeps the row, so objects keep the order they were created in (lists rely on it).
            "INSERT INTO object (id, kind, body) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, body = excluded.body",
            (obj["id"], obj["object"], json.dumps(obj)),
        )

    @staticmethod
    def add_event(connection: sqlite3.Connection, event: dict[str, Any]) -> int:
        """Record an event; returns its place in the order of events."""
        cursor = connection.execute(
            "INSERT INTO event (id, type, body) VALUES (?, ?, ?)", (event["id"], event["type"], json.dumps(event))
        )
        seq = cursor.lastrowid
        assert seq is not None  # set by every INSERT into a table with a rowid
        return seq

    def rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read for the control page and tests."""
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def all_of(self, kind: str) -> list[dict[str, Any]]:
        """Every object of a kind, newest first, as Stripe lists them."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT body FROM object WHERE kind = ? ORDER BY json_extract(body, '$.created') DESC, rowid DESC",
                (kind,),
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def get_event(self, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._connection.execute("SELECT body FROM event WHERE id = ?", (event_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def events(self, after_seq: int = 0) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT seq, body FROM event WHERE seq > ? ORDER BY seq", (after_seq,)
            ).fetchall()
        return [(seq, json.loads(body)) for seq, body in rows]

    # --- settings: the webhook endpoint and the fault switches ---------------------------------

    def setting(self, name: str, default: Any = None) -> Any:
        with self._lock:
            row = self._connection.execute("SELECT value FROM setting WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    @staticmethod
    def put_setting(connection: sqlite3.Connection, name: str, value: Any) -> None:
        connection.execute("INSERT OR REPLACE INTO setting (name, value) VALUES (?, ?)", (name, json.dumps(value)))

    @staticmethod
    def read_setting(connection: sqlite3.Connection, name: str, default: Any = None) -> Any:
        row = connection.execute("SELECT value FROM setting WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    # --- idempotency (https://docs.stripe.com/api/idempotent_requests) -------------------------

    def begin_idempotent(self, key: str, fingerprint: str) -> tuple[str, int | None, str | None]:
        """('new', …) to run the request; ('replay', status, body); ('mismatch', …); ('in_flight', …)."""
        now = time.time()
        with self.transaction() as connection:
            connection.execute(
                "DELETE FROM idempotency WHERE started < ? OR (status IS NULL AND started < ?)",
                (now - IDEMPOTENCY_TTL_S, now - IN_FLIGHT_TTL_S),
            )
            row = connection.execute(
                "SELECT fingerprint, status, body FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                connection.execute(
                    "INSERT INTO idempotency (key, fingerprint, started) VALUES (?, ?, ?)", (key, fingerprint, now)
                )
                return "new", None, None
        if row[0] != fingerprint:
            return "mismatch", None, None
        if row[1] is None:
            return "in_flight", None, None
        return "replay", row[1], row[2]

    def finish_idempotent(self, key: str, status: int | None, body: str | None) -> None:
        """Save the response; `status=None` forgets the key (the request may simply be sent again)."""
        with self.transaction() as connection:
            if status is None:
                connection.execute("DELETE FROM idempotency WHERE key = ?", (key,))
            else:
                connection.execute("UPDATE idempotency SET status = ?, body = ? WHERE key = ?", (status, body, key))

    def close(self) -> None:
        self._connection.close()
