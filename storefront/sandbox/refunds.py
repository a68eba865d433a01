"""Refunds as Stripe runs them: created pending, settled a little later (or failed), never more
than was paid, and for TWINT only within 180 days of the payment
(https://docs.stripe.com/refunds, https://docs.stripe.com/payments/twint)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict
from typing import Any

from storefront.sandbox import objects
from storefront.sandbox.base import AccountBase, Call, check_params, parse_int
from storefront.sandbox.errors import StripeError, invalid
from storefront.sandbox.faults import Switches

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
TWINT_REFUND_WINDOW_S = 180 * 24 * 3600  # TWINT payments can be refunded for 180 days
REFUND_PARAMS = frozenset(
    {
        "amount",
        "charge",
        "currency",
        "customer",
        "expand",
        "instructions_email",
        "metadata",
        "origin",
        "payment_intent",
        "reason",
        "refund_application_fee",
        "reverse_transfer",
    }
)


def _check_amount_and_reason(amount: int | None, reason: Any) -> None:
    if amount is not None and amount <= 0:
        raise invalid("Invalid positive integer", code="parameter_invalid_integer", param="amount")
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid(f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason")


class Refunds(AccountBase):
    def create_refund(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        check_params(params, REFUND_PARAMS)
        amount = parse_int(params, "amount", required=False)
        _check_amount_and_reason(amount, params.get("reason"))
        if not params.get("payment_intent") and not params.get("charge"):
            raise invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
                param="payment_intent",
            )
        return self._refund(params, amount, call)

    def refund_from_dashboard(
        self, intent_id: str, amount: int | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """A refund made in Stripe's dashboard, not asked for by the shop: the same rules as the
        API's, but no API request causes it (its events carry `request.id: null`), it has no
        metadata, and it is not in the request log. `amount` None refunds what is left."""
        _check_amount_and_reason(amount, reason)
        return self._refund({"payment_intent": intent_id, "reason": reason}, amount, Call(request_id=None))

    def _refund(self, params: dict[str, Any], amount: int | None, call: Call) -> dict[str, Any]:
        """Refund `amount` (None: what is left) of the charge or PaymentIntent `params` names,
        pending until `settle_due_refunds` settles it (or fails it, if `refund_fails` is on)."""
        with self.store.transaction() as connection:
            if params.get("charge"):
                paid = self._load(connection, params["charge"], "charge", param="charge")
            else:
                intent = self._load(connection, params["payment_intent"], param="payment_intent")
                if not intent["latest_charge"] or intent["status"] != "succeeded":
                    raise StripeError(
                        400,
                        f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                        param="payment_intent",
                    )
                paid = self._load(connection, intent["latest_charge"], "charge", param="charge")
            if objects.now() - paid["created"] > TWINT_REFUND_WINDOW_S:
                raise StripeError(
                    400,
                    f"Charge {paid['id']} is too old to be refunded: TWINT payments can be refunded for 180 days.",
                    code="charge_expired_for_refund",
                    param="charge",
                )
            # Refunds still pending count too: together they never exceed what was paid.
            remaining = paid["amount"] - paid["amount_refunded"] - self._pending_refunds(connection, paid["id"])
            if remaining <= 0:
                raise StripeError(
                    400,
                    f"Charge {paid['id']} has already been refunded.",
                    code="charge_already_refunded",
                    param="charge",
                )
            amount = remaining if amount is None else amount
            if amount > remaining:
                raise StripeError(
                    400,
                    f"Refund amount (CHF {amount / 100:.2f}) is greater than unrefunded amount "
                    f"on charge (CHF {remaining / 100:.2f})",
                    code="amount_too_large",
                    param="amount",
                )
            created = objects.refund(paid, amount, params)  # pending: Stripe settles it later
            self.store.put(connection, created)
            switches = Switches(**self.store.read_setting(connection, "switches", {}))
            outcome = "fail" if switches.refund_fails else "succeed"
            if switches.refund_fails:  # the next refund only
                switches.refund_fails = False
                self.store.put_setting(connection, "switches", asdict(switches))
            connection.execute(
                "INSERT INTO refund_due (refund_id, due, outcome) VALUES (?, ?, ?)",
                (created["id"], time.time() + switches.refund_delay_s, outcome),
            )
            self._emit(connection, "refund.created", created, call)
        return created

    def settle_due_refunds(self) -> int:
        """Settle the pending refunds whose time has come: `succeeded` (the charge shows the money
        given back), or `failed` when QA asked for it. No API request causes these events."""
        unprompted = Call(request_id=None)
        with self.store.transaction() as connection:
            due = connection.execute(
                "SELECT refund_id, outcome FROM refund_due WHERE due <= ? ORDER BY due LIMIT 20", (time.time(),)
            ).fetchall()
            for refund_id, outcome in due:
                connection.execute("DELETE FROM refund_due WHERE refund_id = ?", (refund_id,))
                refund = self._load(connection, refund_id, "refund", param="refund")
                if refund["status"] != "pending":
                    continue
                if outcome == "fail":
                    refund.update(
                        status="failed", failure_reason="declined", failure_balance_transaction=objects.new_id("txn_3")
                    )
                    self.store.put(connection, refund)
                    self._emit(connection, "refund.updated", refund, unprompted, {"status": "pending"})
                    self._emit(connection, "refund.failed", refund, unprompted)
                    continue
                paid = self._load(connection, refund["charge"], "charge", param="charge")
                previous_charge = {"amount_refunded": paid["amount_refunded"], "refunded": paid["refunded"]}
                paid.update(
                    amount_refunded=paid["amount_refunded"] + refund["amount"],
                    refunded=paid["amount_refunded"] + refund["amount"] == paid["amount"],
                )
                refund["status"] = "succeeded"
                self.store.put(connection, refund)
                self.store.put(connection, paid)
                self._emit(connection, "refund.updated", refund, unprompted, {"status": "pending"})
                self._emit(connection, "charge.refunded", paid, unprompted, previous_charge)
        return len(due)

    @staticmethod
    def _pending_refunds(connection: sqlite3.Connection, charge_id: str) -> int:
        total = connection.execute(
            "SELECT COALESCE(SUM(json_extract(body, '$.amount')), 0) FROM object WHERE kind = 'refund'"
            " AND json_extract(body, '$.charge') = ? AND json_extract(body, '$.status') = 'pending'",
            (charge_id,),
        ).fetchone()[0]
        return int(total)
