"""What a journey checks behind the page: the shop's own records (when the suite started the shop
itself) and the offline Stripe sandbox (its switches, its webhook deliveries, its PaymentIntents)."""

from __future__ import annotations

import os
import sqlite3
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import stripe

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LocalShop:
    """The throw-away shop the suite started: its address, settings, database, log and e-mails."""

    url: str
    env: dict[str, str]
    database: Path
    log: Path
    outbox: Path

    def command(self, *args: str, fails: bool = False, input: str | None = None) -> str:
        """Run the shop's command line (`python -m storefront …`) against this shop: its output, or
        with `fails=True` its error output, checking that it did fail. `input` is sent to its stdin
        (e.g. a password for `staff add … --password-stdin`)."""
        done = subprocess.run(
            [sys.executable, "-m", "storefront", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
        )
        if (done.returncode != 0) != fails:
            raise AssertionError(f"`storefront {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()}")
        return done.stderr if fails else done.stdout


@dataclass(frozen=True)
class StaffAccount:
    """A back-office account the journeys sign in with."""

    email: str
    password: str = field(repr=False)
    role: str  # "owner" or "staff"


@dataclass(frozen=True)
class StoredOrder:
    number: str
    status: str
    total: int
    payment_intent_id: str | None  # its first payment's PaymentIntent
    needs_refund: bool  # a payment of it came in but is due back


class ShopRecords:
    """Reads the shop's database, read-only, as a shop owner would look at it."""

    def __init__(self, shop: LocalShop) -> None:
        self.shop = shop

    def _rows(self, sql: str, *params: Any) -> list[Any]:
        connection = sqlite3.connect(f"file:{self.shop.database}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    _ORDERS = (
        "SELECT o.number, o.status, o.total,"
        " (SELECT p.intent_id FROM payment p WHERE p.order_id = o.id ORDER BY p.id LIMIT 1),"
        " EXISTS (SELECT 1 FROM payment p WHERE p.order_id = o.id AND p.status = 'refund_due')"
        " FROM shop_order o"
    )

    def orders(self, email: str) -> list[StoredOrder]:
        rows = self._rows(f"{self._ORDERS} WHERE o.email = ? ORDER BY o.id", email)
        return [self._stored(row) for row in rows]

    def order(self, number: str) -> StoredOrder:
        rows = self._rows(f"{self._ORDERS} WHERE o.number = ?", number)
        assert rows, f"the shop has no order {number}"
        return self._stored(rows[0])

    @staticmethod
    def _stored(row: Any) -> StoredOrder:
        number, status, total, intent_id, refund_due = row
        return StoredOrder(number, status, total, intent_id, bool(refund_due))

    def stock(self, sku: str) -> int:
        rows = self._rows("SELECT stock FROM variant WHERE sku = ?", sku)
        assert rows, f"the shop has no variant {sku}"
        level: int = rows[0][0]
        return level

    def lines(self, number: str) -> list[tuple[str, int, int]]:
        """(sku, quantity, unit price in Rappen) of an order."""
        return self._rows(
            "SELECT l.sku, l.quantity, l.unit_price FROM order_line l JOIN shop_order o ON o.id = l.order_id"
            " WHERE o.number = ? ORDER BY l.id",
            number,
        )

    def emails(self, number: str) -> list[str]:
        """The e-mails the shop decided to send its customer about an order (kinds), in the order decided."""
        rows = self._rows(
            "SELECT e.kind FROM outbox_email e JOIN shop_order o ON o.id = e.order_id"
            " WHERE o.number = ? AND e.recipient <> '' ORDER BY e.id",
            number,
        )
        return [kind for (kind,) in rows]

    def events(self, number: str) -> list[str]:
        """The Stripe events the shop applied to an order (each event id once)."""
        rows = self._rows(
            "SELECT e.type FROM processed_event e JOIN shop_order o ON o.id = e.order_id WHERE o.number = ?"
            " ORDER BY e.received_at",
            number,
        )
        return [kind for (kind,) in rows]

    def sent_email(self, number: str, seconds: float = 10, subject: str = "") -> str:
        """The first e-mail to the customer the outbox wrote about an order whose subject has
        `subject` in it (the sender runs every 2 s)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for path in sorted(self.shop.outbox.glob("*.eml")):
                message = message_from_bytes(path.read_bytes())
                if (
                    number in str(message["Subject"])
                    and subject in str(message["Subject"])
                    and "@" in str(message["To"])
                    and message["To"] != self.shop.env.get("STOREFRONT_COMPANY_EMAIL", "shop@example.ch")
                ):
                    return path.read_text(encoding="utf-8")
            time.sleep(0.1)
        raise AssertionError(f"no e-mail about order {number} was written within {seconds} s")

    def email_to(self, recipient: str, subject: str, seconds: float = 15) -> str:
        """The text of the first e-mail the outbox wrote to `recipient` with `subject` in its subject."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for path in sorted(self.shop.outbox.glob("*.eml")):
                message = message_from_bytes(path.read_bytes(), policy=policy.default)
                if message["To"] == recipient and subject in str(message["Subject"]):
                    return str(message.get_content())
            time.sleep(0.2)
        raise AssertionError(f"no e-mail to {recipient} about {subject!r} was written within {seconds} s")


def _trusting(ca_file: str) -> stripe.HTTPClient:
    """stripe-python's HTTP client, trusting `ca_file` (it reads the bundle from this setting)."""
    stripe.ca_bundle_path = ca_file
    return stripe.HTTPXClient(verify_ssl_certs=True, allow_sync_methods=True, timeout=10.0)


class Sandbox:
    """The offline Stripe sandbox the shop pays through: its fault switches and what it sent."""

    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/_sandbox"
        # a shop behind a proxy with its own certificate authority (make prod-local) names it here
        ca_file = os.environ.get("STOREFRONT_E2E_CA_FILE")
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self.http = httpx.Client(timeout=10, verify=verify)
        self.stripe = stripe.StripeClient(
            "sk_test_storefront",
            base_addresses={"api": self.url},
            http_client=stripe.HTTPXClient(verify_ssl_certs=True, allow_sync_methods=True, timeout=10.0)
            if not ca_file
            else _trusting(ca_file),
        )

    def available(self) -> bool:
        try:
            return self.http.get(f"{self.url}/control/api/state").status_code == 200
        except httpx.HTTPError:
            return False

    def switch(self, **switches: Any) -> dict[str, Any]:
        """Set fault switches (webhook_delay_s, webhook_duplicate, webhook_out_of_order, webhook_drop,
        api_fault, api_fault_count, hang_s, customer_never_returns); see the control page."""
        response = self.http.post(f"{self.url}/control/api/switches", json=switches)
        assert response.status_code == 200, response.text
        changed: dict[str, Any] = response.json()
        return changed

    def switch_intent(self, intent_id: str, **switches: Any) -> dict[str, Any]:
        """Switches for one PaymentIntent only (webhook_delay_s, webhook_duplicate, webhook_drop,
        api_fault, api_fault_count, hang_s), so journeys against one shared shop do not meet."""
        response = self.http.post(f"{self.url}/control/api/intents/{intent_id}/switches", json=switches)
        assert response.status_code == 200, response.text
        in_force: dict[str, Any] = response.json()
        return in_force

    def reset(self) -> None:
        self.switch(
            webhook_delay_s=0,
            webhook_duplicate=False,
            webhook_out_of_order=False,
            webhook_drop="never",
            api_fault="none",
            api_fault_count=0,
            customer_never_returns=False,
        )

    def switches(self) -> dict[str, Any]:
        state: dict[str, Any] = self.http.get(f"{self.url}/control/api/state").json()
        return dict(state["switches"])

    def release_held(self) -> int:
        response = self.http.post(f"{self.url}/control/api/release-held", json={})
        assert response.status_code == 200, response.text
        released: int = response.json()["released"]
        return released

    def deliveries(self, intent_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        """The webhook deliveries about one PaymentIntent, oldest first."""
        state = self.http.get(f"{self.url}/control/api/state").json()
        found = [d for d in state["deliveries"] if d["object_id"] == intent_id]
        return sorted((d for d in found if event_type is None or d["type"] == event_type), key=lambda d: d["id"])

    def wait_for_deliveries(
        self, intent_id: str, event_type: str, count: int = 1, state: str = "delivered", seconds: float = 20
    ) -> list[dict[str, Any]]:
        """Wait until `count` deliveries of `event_type` for the intent are in `state`; those deliveries."""
        deadline = time.monotonic() + seconds
        while True:
            found = [d for d in self.deliveries(intent_id, event_type) if d["state"] == state]
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, (
                    f"{len(found)} of {count} {event_type} deliveries {state} after {seconds} s: "
                    f"{self.deliveries(intent_id)}"
                )
                return found
            time.sleep(0.1)

    def requests(self, intent_id: str) -> list[dict[str, Any]]:
        """The API requests about one PaymentIntent, oldest first, from the sandbox's request log."""
        response = self.http.get(f"{self.url}/control/api/requests", params={"payment_intent": intent_id})
        assert response.status_code == 200, response.text
        logged: list[dict[str, Any]] = response.json()["requests"]
        return logged[::-1]

    def refund_in_dashboard(self, intent_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund a paid PaymentIntent as if in Stripe's dashboard, without the shop asking: `amount`
        in Rappen, None for what is left. The refund (pending; it settles a few seconds later), which
        the shop learns of only from webhooks: wait for them with
        `wait_for_deliveries(refund["id"], "refund.updated")` or `(refund["charge"], "charge.refunded")`."""
        response = self.http.post(f"{self.url}/control/api/intents/{intent_id}/refund", json={"amount": amount})
        if response.status_code != 200:
            raise AssertionError(f"the sandbox refused the dashboard refund ({response.status_code}): {response.text}")
        refund: dict[str, Any] = response.json()
        return refund

    def intent(self, intent_id: str) -> stripe.PaymentIntent:
        return self.stripe.v1.payment_intents.retrieve(intent_id)
