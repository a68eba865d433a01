"""A model-based test of the order lifecycle: Hypothesis runs random sequences of placing orders,
TWINT's reports (early, late, twice, for a second PaymentIntent), expiry, refunds and stock edits
against the shop's services on each database, and checks after every step what must always hold:

- stock is conserved: free + reserved + sold = initial + the back office's changes, never negative;
- an order has at most one payment that counts; any other is marked to refund (or refunded);
- no order gives back more than it took;
- exactly one confirmation e-mail per paid order, none for any other.

Bounded for `make test` (STOREFRONT_MODEL_EXAMPLES, default 40 runs of up to 40 steps)."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from storefront.cart.service import CartError, add_to_cart
from storefront.catalog.backoffice import StockError, change_stock
from storefront.catalog.service import Catalog
from storefront.db import Database
from storefront.orders.lifecycle import apply_payment_state, record_payment
from storefront.orders.models import MONEY_IN, PaymentStatus, RefundStatus
from storefront.orders.placing import OrderRefused, PlacedOrder, place_order
from storefront.orders.provider import (
    IntentState,
    PaymentMovedOn,
    PaymentRequest,
    RefundRequest,
    RefundState,
    order_reference,
)
from storefront.orders.reconciler import reconcile
from storefront.orders.refunds import RefundError, request_refund
from storefront.orders.timeline import Source
from storefront.settings import LANGUAGES, Settings
from storefront.shipping import shipping_method
from storefront.tokens import new_token
from tests.support.db import reset_shop
from tests.support.factories import CUSTOMER, TODAY

EXAMPLES = int(os.environ.get("STOREFRONT_MODEL_EXAMPLES", "40"))
SKUS = ("MUG", "SOCKS-39")


@dataclass
class FakeStripe:
    """Stripe as far as the lifecycle asks it: each PaymentIntent's state, refunds paid at once."""

    intents: dict[str, IntentState] = field(default_factory=dict)
    refunds: Counter[str] = field(default_factory=Counter)

    async def create_intent(self, request: PaymentRequest) -> IntentState:
        raise AssertionError("the model records its intents itself")

    async def retrieve_intent(self, intent_id: str) -> IntentState:
        return self.intents[intent_id]

    async def abandon_intent(self, intent_id: str) -> IntentState:
        intent = self.intents[intent_id]
        if intent.status != PaymentStatus.PENDING:
            raise PaymentMovedOn(intent_id)
        self.intents[intent_id] = _with(intent, PaymentStatus.CANCELED)
        return self.intents[intent_id]

    async def hand_over_to_twint(self, intent_id: str, return_url: str, name: str, email: str) -> str:
        raise AssertionError("not used")

    async def create_refund(self, request: RefundRequest) -> RefundState:
        self.refunds[request.intent_id] += request.amount
        return RefundState(
            id=f"re_{request.record_key}",
            intent_id=request.intent_id,
            amount=request.amount,
            status=RefundStatus.SUCCEEDED,
            record_key=request.record_key,
        )

    async def retrieve_refund(self, refund_id: str) -> RefundState:
        raise AssertionError("refunds are paid at once here")


def _with(intent: IntentState, status: PaymentStatus) -> IntentState:
    return IntentState(
        id=intent.id,
        status=status,
        amount=intent.amount,
        currency=intent.currency,
        order_id=intent.order_id,
        order_ref=intent.order_ref,
        cancellable=status == PaymentStatus.PENDING,
    )


class OrderLifecycle(RuleBasedStateMachine):
    shop_settings: ClassVar[Settings]
    seen: ClassVar[Counter[str]] = Counter()  # what the runs got to, so the test is never vacuous
    orders = Bundle("orders")
    paid_orders = Bundle("paid_orders")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.run(reset_shop(self.shop_settings.database_url))
        self.database = Database(self.shop_settings.database_url)
        self.catalog = Catalog(self.database, LANGUAGES, "en")
        self.stripe = FakeStripe()
        self.numbers = itertools.count(1)
        self.variants = {sku: self.one("SELECT id FROM variant WHERE sku = :sku", sku=sku) for sku in SKUS}
        self.initial = {sku: self.stock(sku) for sku in SKUS}
        self.adjusted = Counter[str]()

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        async def read() -> list[Any]:
            async with self.database.read() as connection:
                return list(await connection.execute(text(sql), params))

        return self.run(read())

    def one(self, sql: str, **params: Any) -> Any:
        return self.rows(sql, **params)[0][0]

    def stock(self, sku: str) -> int:
        found: int = self.one("SELECT stock FROM variant WHERE sku = :sku", sku=sku)
        return found

    def teardown(self) -> None:
        for status, number in self.rows("SELECT status, count(*) FROM payment GROUP BY status"):
            self.seen[f"payment {status}"] += number
        for status, number in self.rows("SELECT status, count(*) FROM shop_order GROUP BY status"):
            self.seen[f"order {status}"] += number
        self.seen["refunds"] += self.one("SELECT count(*) FROM refund")
        self.run(self.database.dispose())
        self.loop.close()

    @initialize()
    def start(self) -> None:
        pass

    # --- what customers, TWINT and the shop do ---------------------------------------------------

    @rule(target=orders, mugs=st.integers(0, 4), socks=st.integers(0, 3))
    def place(self, mugs: int, socks: int) -> Any:
        token = new_token()
        try:
            for sku, units in (("MUG", mugs), ("SOCKS-39", socks)):
                if units:
                    self.run(add_to_cart(self.database, self.catalog, token, self.variants[sku], units, 99))
            shipping = shipping_method("b_post")
            assert shipping is not None
            order = self.run(place_order(self.database, self.catalog, token, CUSTOMER, shipping, TODAY))
        except (CartError, OrderRefused):
            return None
        intent = IntentState(
            id=f"pi_{order.id}_1",
            status=PaymentStatus.PENDING,
            amount=order.total,
            currency="chf",
            order_id=order.id,
            order_ref=order_reference(order.public_token),
            cancellable=True,
        )
        self.stripe.intents[intent.id] = intent
        self.run(record_payment(self.database, order.id, intent))
        return order

    def _intent(self, order: PlacedOrder, second: bool) -> IntentState:
        first = self.stripe.intents[f"pi_{order.id}_1"]
        if not second:
            return first
        # TWINT paid through another PaymentIntent the shop made for the same order
        return self.stripe.intents.setdefault(
            f"pi_{order.id}_2", IntentState(**{**_fields(first), "id": f"pi_{order.id}_2"})
        )

    @rule(
        target=paid_orders,
        order=orders,
        outcome=st.sampled_from([PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED]),
        second=st.booleans(),
        times=st.integers(1, 2),
    )
    def twint_reports(self, order: PlacedOrder | None, outcome: PaymentStatus, second: bool, times: int) -> Any:
        """TWINT decides; Stripe's webhook says so, maybe twice (a redelivery)."""
        if order is None:
            return multiple()
        intent = self._intent(order, second)
        if intent.status in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED):
            outcome = intent.status  # Stripe never changes a final state; this is a late redelivery
        self.stripe.intents[intent.id] = _with(intent, outcome)
        for _ in range(times):
            applied = self.run(apply_payment_state(self.database, self.stripe.intents[intent.id], Source.WEBHOOK))
        return multiple(order) if applied.status == "paid" else multiple()

    @rule(order=orders)
    def expires(self, order: PlacedOrder | None) -> None:
        """The TWINT window ends: the reconciler asks Stripe and calls off what still waits."""
        if order is not None:
            self.run(reconcile(self.database, self.stripe, order_number=order.number))

    @rule(order=st.one_of(paid_orders, orders), everything=st.booleans())
    def owner_refunds(self, order: PlacedOrder | None, everything: bool) -> None:
        if order is None:
            return
        try:
            self.run(
                request_refund(
                    self.database,
                    self.stripe,
                    order.id,
                    key=f"key-{next(self.numbers)}",
                    actor="owner@example.ch",
                    reason="the customer asked",
                    amount=None if everything else 100,
                )
            )
        except RefundError:
            return  # not paid, or nothing left: refused with a reason

    @rule(sku=st.sampled_from(SKUS), change=st.integers(-4, 6))
    def owner_changes_stock(self, sku: str, change: int) -> None:
        before = self.stock(sku)
        try:
            after = self.run(change_stock(self.database, self.variants[sku], f"{change:+d}", "count", "owner"))
        except StockError:
            return
        self.adjusted[sku] += after - before

    # --- what must always hold ---------------------------------------------------------------------

    @invariant()
    def stock_is_conserved(self) -> None:
        for sku in SKUS:
            free = self.stock(sku)
            held = dict(
                self.rows(
                    "SELECT o.status, coalesce(sum(l.quantity), 0) FROM order_line l JOIN shop_order o"
                    " ON o.id = l.order_id WHERE l.sku = :sku GROUP BY o.status",
                    sku=sku,
                )
            )
            reserved = held.get("pending_payment", 0) + held.get("payment_failed", 0)
            sold = held.get("paid", 0)
            assert free >= 0
            assert free + reserved + sold == self.initial[sku] + self.adjusted[sku], (sku, free, held)

    @invariant()
    def one_payment_counts_per_order(self) -> None:
        for order_id, counted in self.rows(
            "SELECT order_id, count(*) FROM payment WHERE status = 'succeeded' GROUP BY order_id"
        ):
            assert counted <= 1, order_id
        # money that came in for an order that is not paid is due back (or was given back)
        for (status,) in self.rows(
            "SELECT p.status FROM payment p JOIN shop_order o ON o.id = p.order_id WHERE o.status != 'paid'"
        ):
            assert status not in (PaymentStatus.SUCCEEDED.value,), status

    @invariant()
    def refunds_never_exceed_payments(self) -> None:
        assert {s.value for s in MONEY_IN} == {"succeeded", "refund_due", "refunded"}
        received = dict(
            self.rows(
                "SELECT order_id, sum(amount) FROM payment"
                " WHERE status IN ('succeeded', 'refund_due', 'refunded') GROUP BY order_id"
            )
        )
        for order_id, refunded in self.rows(
            "SELECT p.order_id, sum(r.amount) FROM refund r JOIN payment p ON p.id = r.payment_id"
            " WHERE r.status != 'failed' GROUP BY p.order_id"
        ):
            assert refunded <= received.get(order_id, 0), (order_id, refunded, received)
        for intent_id, refunded in self.stripe.refunds.items():
            assert refunded <= self.stripe.intents[intent_id].amount

    @invariant()
    def one_confirmation_per_paid_order(self) -> None:
        confirmations = dict(
            self.rows("SELECT order_id, count(*) FROM outbox_email WHERE kind = 'order_paid' GROUP BY order_id")
        )
        for order_id, status in self.rows("SELECT id, status FROM shop_order"):
            assert confirmations.get(order_id, 0) == (1 if status == "paid" else 0), (order_id, status)


def _fields(intent: IntentState) -> dict[str, Any]:
    return {name: getattr(intent, name) for name in IntentState.__dataclass_fields__}


def test_random_sequences_keep_stock_payments_refunds_and_e_mails_consistent(settings: Settings) -> None:
    OrderLifecycle.shop_settings = settings
    OrderLifecycle.seen.clear()
    run_state_machine_as_test(OrderLifecycle, settings=settings_for_the_model())
    seen = OrderLifecycle.seen
    for reached in ("order paid", "order cancelled", "payment failed", "payment refund_due", "refunds"):
        assert seen[reached] > 0, (reached, seen)


def settings_for_the_model() -> Any:
    return settings(
        max_examples=EXAMPLES,
        stateful_step_count=40,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
