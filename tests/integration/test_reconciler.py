"""The reconciler against a real sandbox over HTTP: abandoned payments are cancelled and their
stock released, a lost webhook or a crash after creating the intent is caught up (R16, R17)."""

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest

from storefront.assets import AssetManifest
from storefront.catalog.service import Catalog
from storefront.db import Database
from storefront.orders.service import claim_sync
from storefront.payments.checkout import start_payment
from storefront.payments.gateway import Gateway
from storefront.payments.reconciler import reconcile
from storefront.sandbox.account import Call, SandboxAccount
from storefront.sandbox.app import create_sandbox_app
from storefront.web import Shop
from tests.integration.conftest import execute, query
from tests.integration.test_orders import fill_cart, place, stock
from tests.sandbox.conftest import serve


@pytest.fixture(scope="module")
def stripe_sandbox() -> Iterator[tuple[str, SandboxAccount]]:
    app = create_sandbox_app()
    with serve(app) as url:
        yield url, SandboxAccount(app.state.sandbox_store)


def shop_for(settings, sandbox_url: str) -> Shop:
    database = Database(settings.database_url)
    return Shop(
        settings=settings,
        database=database,
        catalog=Catalog(database),
        assets=AssetManifest(),
        gateway=Gateway(settings, api_base=sandbox_url),
    )


def run(shop: Shop, work):
    async def go():
        try:
            return await work(shop)
        finally:
            await shop.database.dispose()

    return asyncio.run(go())


def age(settings, order_id: int, minutes: int) -> None:
    execute(
        settings.database_url,
        "UPDATE shop_order SET created_at = :at WHERE id = :id",
        at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes),
        id=order_id,
    )


def status(settings, order_id):
    return query(settings.database_url, "SELECT status, payment_intent_id FROM shop_order WHERE id = :id", id=order_id)[
        0
    ]


def test_an_abandoned_payment_is_cancelled_and_its_stock_released(settings, stripe_sandbox):
    url, account = stripe_sandbox
    order = place(settings, fill_cart(settings, ("MUG", 2)))
    assert run(shop_for(settings, url), lambda shop: start_payment(shop, order.id))
    intent_id = status(settings, order.id)[1]
    account.confirm_payment_intent(
        intent_id, {"payment_method_data": {"type": "twint"}, "return_url": "http://shop/return"}, Call("req_test")
    )
    age(settings, order.id, 16)
    report = run(shop_for(settings, url), reconcile)
    assert report.outcomes[order.number] == "cancelled: cancelled"
    assert status(settings, order.id)[0] == "cancelled"
    assert stock(settings, "MUG") == 12
    assert account.retrieve("payment_intent", intent_id)["cancellation_reason"] == "abandoned"


def test_a_payment_whose_webhook_never_came_is_caught_up(settings, stripe_sandbox):
    url, account = stripe_sandbox
    order = place(settings, fill_cart(settings, ("MUG", 1)))
    run(shop_for(settings, url), lambda shop: start_payment(shop, order.id))
    intent_id = status(settings, order.id)[1]
    account.confirm_payment_intent(
        intent_id, {"payment_method_data": {"type": "twint"}, "return_url": "http://shop/return"}, Call("req_test")
    )
    account.authorize(intent_id, Call("req_test"))
    age(settings, order.id, 16)
    run(shop_for(settings, url), reconcile)
    assert status(settings, order.id)[0] == "paid"


def test_a_crash_between_creating_and_recording_the_intent_is_recovered(settings, stripe_sandbox):
    url, _account = stripe_sandbox
    order = place(settings, fill_cart(settings, ("MUG", 1)))
    run(shop_for(settings, url), lambda shop: start_payment(shop, order.id))
    intent_id = status(settings, order.id)[1]
    execute(settings.database_url, "UPDATE shop_order SET payment_intent_id = NULL WHERE id = :id", id=order.id)
    age(settings, order.id, 16)
    run(shop_for(settings, url), reconcile)
    assert status(settings, order.id) == ("cancelled", intent_id)  # the same intent, found again and cancelled


def test_recent_orders_are_left_alone(settings, stripe_sandbox):
    url, _account = stripe_sandbox
    order = place(settings, fill_cart(settings, ("MUG", 1)))
    run(shop_for(settings, url), lambda shop: start_payment(shop, order.id))
    report = run(shop_for(settings, url), reconcile)
    assert report.checked == 0
    assert status(settings, order.id)[0] == "pending_payment"


def test_one_order_named_by_its_number_is_settled_now_and_no_other(settings, stripe_sandbox):
    url, _account = stripe_sandbox
    named = place(settings, fill_cart(settings, ("MUG", 1)))
    other = place(settings, fill_cart(settings, ("MUG", 1)))
    for order in (named, other):
        run(shop_for(settings, url), lambda shop, order=order: start_payment(shop, order.id))
    assert run(shop_for(settings, url), lambda shop: claim_sync(shop.database, named.id, 5))  # a status poll just now
    report = run(shop_for(settings, url), lambda shop: reconcile(shop, order_number=named.number))
    assert report.outcomes == {named.number: "cancelled: cancelled"}
    assert status(settings, named.id)[0] == "cancelled"
    assert status(settings, other.id)[0] == "pending_payment"
    assert run(shop_for(settings, url), lambda shop: reconcile(shop, order_number=named.number)).checked == 0


def test_twenty_concurrent_pay_attempts_create_one_payment_intent(settings, stripe_sandbox):
    """R3: however often the pay step runs at once, the order gets one PaymentIntent."""
    url, account = stripe_sandbox
    order = place(settings, fill_cart(settings, ("MUG", 1)))
    before = len(account.store.events())

    async def twenty(shop):
        return await asyncio.gather(*(start_payment(shop, order.id) for _ in range(20)))

    run(shop_for(settings, url), twenty)
    intent_id = status(settings, order.id)[1]
    created = [e for _seq, e in account.store.events()[before:] if e["type"] == "payment_intent.created"]
    assert [e["data"]["object"]["id"] for e in created] == [intent_id]


def test_many_polling_tabs_ask_stripe_at_most_once_per_interval(settings, stripe_sandbox):
    """R25: 200 polls of one pending order at once: one of them may ask Stripe."""
    from storefront.orders.service import claim_sync

    url, _account = stripe_sandbox
    order = place(settings, fill_cart(settings, ("MUG", 1)))

    async def polls(shop):
        return await asyncio.gather(*(claim_sync(shop.database, order.id, 5.0) for _ in range(200)))

    assert sum(run(shop_for(settings, url), polls)) == 1
