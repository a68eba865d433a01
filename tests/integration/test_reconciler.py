"""Payments against a real sandbox over HTTP: one PaymentIntent per order however often the pay
step runs, polls that ask Stripe at most once per interval, and the reconciler, which cancels
abandoned payments (their stock released) and catches up a lost webhook or a crash after
creating the intent."""

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from storefront.db import Database
from storefront.orders.lifecycle import apply_payment_state, claim_sync, start_payment, sync_payment
from storefront.orders.reconciler import Reconciled, reconcile
from storefront.orders.timeline import Source
from storefront.orders.views import find_order
from storefront.payments.gateway import StripeGateway
from storefront.sandbox.app import create_sandbox_app
from storefront.settings import Settings
from tests.support.db import execute, order_status, payments, query, stock
from tests.support.factories import fill_cart, place
from tests.support.http import serve
from tests.support.sandbox import SECRET_KEY, CountingApp, Sandbox

T = TypeVar("T")


@pytest.fixture(scope="module")
def stripe_sandbox() -> Iterator[Sandbox]:
    app = create_sandbox_app()
    counter = CountingApp(app)
    with serve(counter) as url:
        yield Sandbox(url=url, store=app.state.sandbox_store, counter=counter)


def run(settings: Settings, sandbox: Sandbox, work: Callable[[Database, StripeGateway], Awaitable[T]]) -> T:
    """`work` with the shop's database and its Stripe client pointed at the sandbox."""
    gateway = StripeGateway(dataclasses.replace(settings, stripe_secret_key=SECRET_KEY, stripe_api_base=sandbox.url))

    async def go() -> T:
        database = Database(settings.database_url)
        try:
            return await work(database, gateway)
        finally:
            await database.dispose()

    return asyncio.run(go())


def age(settings, order_id: int, minutes: int, *, handed_over_minutes_ago: int | None = None) -> None:
    """Placed `minutes` ago; the customer pressed "Pay" `handed_over_minutes_ago` (as the shop learnt
    from the webhook or the pay form), or never."""
    now = dt.datetime.now(dt.UTC)
    execute(
        settings.database_url,
        "UPDATE shop_order SET created_at = :at, handed_over_at = :handed_over WHERE id = :id",
        at=now - dt.timedelta(minutes=minutes),
        handed_over=None if handed_over_minutes_ago is None else now - dt.timedelta(minutes=handed_over_minutes_ago),
        id=order_id,
    )


def intent_of(settings, order_id: int) -> str:
    (found,) = payments(settings, order_id)
    return found[0]


def settle(settings, sandbox, **options) -> Reconciled:
    return run(settings, sandbox, lambda db, gateway: reconcile(db, gateway, **options))


def started(settings, sandbox, *lines):
    order = place(settings, fill_cart(settings, *lines))
    assert run(settings, sandbox, lambda db, gateway: start_payment(db, gateway, order.id))
    return order


def test_an_abandoned_payment_is_cancelled_and_its_stock_released(settings, stripe_sandbox):
    order = started(settings, stripe_sandbox, ("MUG", 2))
    intent_id = intent_of(settings, order.id)
    stripe_sandbox.customer_confirms(intent_id)
    age(settings, order.id, 16, handed_over_minutes_ago=16)
    report = settle(settings, stripe_sandbox)
    assert report.outcomes[order.number] == "cancelled: cancelled"
    assert order_status(settings, order.id) == "cancelled"
    assert payments(settings, order.id) == [(intent_id, "canceled")]
    assert stock(settings, "MUG") == 12
    assert stripe_sandbox.account.retrieve("payment_intent", intent_id)["cancellation_reason"] == "abandoned"


def test_a_payment_whose_webhook_never_came_is_caught_up(settings, stripe_sandbox):
    order = started(settings, stripe_sandbox, ("MUG", 1))
    intent_id = intent_of(settings, order.id)
    stripe_sandbox.customer_confirms(intent_id)
    stripe_sandbox.authorize(intent_id)
    age(settings, order.id, 16)
    settle(settings, stripe_sandbox)
    assert order_status(settings, order.id) == "paid"
    assert payments(settings, order.id) == [(intent_id, "succeeded")]


def test_a_crash_between_creating_and_recording_the_intent_is_recovered(settings, stripe_sandbox):
    order = started(settings, stripe_sandbox, ("MUG", 1))
    intent_id = intent_of(settings, order.id)
    execute(settings.database_url, "DELETE FROM payment WHERE order_id = :id", id=order.id)  # never recorded
    age(settings, order.id, 16)
    settle(settings, stripe_sandbox)
    assert order_status(settings, order.id) == "cancelled"
    assert payments(settings, order.id) == [(intent_id, "canceled")]  # the same intent, found again and cancelled


PAY_WITHIN = dt.timedelta(minutes=10)


def test_an_order_whose_customer_never_pressed_pay_gives_its_stock_back_after_ten_minutes(settings, stripe_sandbox):
    order = started(settings, stripe_sandbox, ("MUG", 2))
    age(settings, order.id, 9)
    assert settle(settings, stripe_sandbox, pay_within=PAY_WITHIN).checked == 0
    age(settings, order.id, 11)
    report = settle(settings, stripe_sandbox, pay_within=PAY_WITHIN)
    assert report.outcomes == {order.number: "cancelled: cancelled"}
    assert stock(settings, "MUG") == 12


def test_twints_fifteen_minutes_start_when_the_customer_presses_pay(settings, stripe_sandbox):
    order = started(settings, stripe_sandbox, ("MUG", 2))
    stripe_sandbox.customer_confirms(order_intent := intent_of(settings, order.id))
    age(settings, order.id, 24, handed_over_minutes_ago=14)  # placed 24 min ago, in TWINT for 14
    assert settle(settings, stripe_sandbox, pay_within=PAY_WITHIN).checked == 0
    assert stock(settings, "MUG") == 10
    age(settings, order.id, 26, handed_over_minutes_ago=16)
    assert settle(settings, stripe_sandbox, pay_within=PAY_WITHIN).outcomes == {order.number: "cancelled: cancelled"}
    assert payments(settings, order.id) == [(order_intent, "canceled")]


def test_a_hand_over_the_shop_did_not_hear_of_starts_the_window_when_it_learns_of_it(settings, stripe_sandbox):
    """Stripe.js tells Stripe, not the shop; the webhook may be late: the reconciler asks Stripe."""
    order = started(settings, stripe_sandbox, ("MUG", 1))
    stripe_sandbox.customer_confirms(intent_of(settings, order.id))
    age(settings, order.id, 11)
    report = settle(settings, stripe_sandbox, pay_within=PAY_WITHIN)
    assert report.outcomes == {order.number: "in TWINT: waits for its window"}
    assert order_status(settings, order.id) == "pending_payment"
    assert query(settings.database_url, "SELECT handed_over_at IS NOT NULL FROM shop_order") == [(True,)]
    assert settle(settings, stripe_sandbox, pay_within=PAY_WITHIN).checked == 0  # now within its window


def test_the_hand_over_is_recorded_from_the_requires_action_webhook(settings, stripe_sandbox):
    order = started(settings, stripe_sandbox, ("MUG", 1))
    intent_id = intent_of(settings, order.id)
    stripe_sandbox.customer_confirms(intent_id)
    state = run(settings, stripe_sandbox, lambda _db, gateway: gateway.retrieve_intent(intent_id))
    assert state.handed_over
    run(settings, stripe_sandbox, lambda db, _gateway: apply_payment_state(db, state, Source.WEBHOOK))
    assert query(settings.database_url, "SELECT handed_over_at IS NOT NULL FROM shop_order") == [(True,)]


def test_recent_orders_are_left_alone(settings, stripe_sandbox):
    order = started(settings, stripe_sandbox, ("MUG", 1))
    assert settle(settings, stripe_sandbox).checked == 0
    assert order_status(settings, order.id) == "pending_payment"


def test_one_order_named_by_its_number_is_settled_now_and_no_other(settings, stripe_sandbox):
    named = started(settings, stripe_sandbox, ("MUG", 1))
    other = started(settings, stripe_sandbox, ("MUG", 1))
    payment = run(settings, stripe_sandbox, lambda db, _gateway: find_order(db, order_id=named.id)).payment
    assert run(settings, stripe_sandbox, lambda db, _gateway: claim_sync(db, payment.id, 5))  # a status poll just now
    report = settle(settings, stripe_sandbox, order_number=named.number)
    assert report.outcomes == {named.number: "cancelled: cancelled"}
    assert order_status(settings, named.id) == "cancelled"
    assert order_status(settings, other.id) == "pending_payment"
    assert settle(settings, stripe_sandbox, order_number=named.number).checked == 0


def test_twenty_concurrent_pay_attempts_create_one_payment_intent(settings, stripe_sandbox):
    """However often the pay step runs at once, the order gets one PaymentIntent."""
    order = place(settings, fill_cart(settings, ("MUG", 1)))
    before = len(stripe_sandbox.store.events())

    async def twenty(database, gateway):
        return await asyncio.gather(*(start_payment(database, gateway, order.id) for _ in range(20)))

    run(settings, stripe_sandbox, twenty)
    intent_id = intent_of(settings, order.id)
    created = [e for _seq, e in stripe_sandbox.store.events()[before:] if e["type"] == "payment_intent.created"]
    assert [e["data"]["object"]["id"] for e in created] == [intent_id]


def test_many_polling_tabs_ask_stripe_at_most_once_per_interval(settings, stripe_sandbox):
    """200 polls of one pending order at once, through the poll's own code: one Stripe call."""
    order = started(settings, stripe_sandbox, ("MUG", 1))
    stripe_sandbox.customer_confirms(intent_of(settings, order.id))
    retrievals = "GET /v1/payment_intents/…"
    before = stripe_sandbox.counter.calls[retrievals]

    async def polls(database, gateway):
        view = await find_order(database, order_id=order.id)
        return await asyncio.gather(*(sync_payment(database, gateway, view) for _ in range(200)))

    seen = run(settings, stripe_sandbox, polls)
    assert stripe_sandbox.counter.calls[retrievals] - before == 1
    assert {view.status for view in seen} == {"pending_payment"}
    run(settings, stripe_sandbox, polls)  # within the interval: no further call
    assert stripe_sandbox.counter.calls[retrievals] - before == 1
