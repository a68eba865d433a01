"""Cart rules under concurrency, through the service (no HTTP), on each database."""

import asyncio
import datetime as dt

import pytest

from storefront.cart.service import CartError, add_to_cart, expire_carts
from storefront.catalog.service import Catalog
from storefront.db import Database
from storefront.settings import LANGUAGES
from storefront.tokens import new_token
from tests.support.db import cart_lines, count, execute, variant_id, with_database
from tests.support.factories import fill_cart


def test_concurrent_adds_to_one_cart_lose_no_unit(settings):
    """Ten tabs adding at once: each add is counted (SQLite takes turns at its write lock;
    PostgreSQL's one-statement add updates the line as last committed)."""
    honey = variant_id(settings, "HONEY-250")
    token = new_token()

    async def run() -> None:
        database = Database(settings.database_url)
        catalog = Catalog(database, LANGUAGES, "en")
        try:
            await asyncio.gather(*(add_to_cart(database, catalog, token, honey, 1, 99) for _ in range(10)))
        finally:
            await database.dispose()

    asyncio.run(run())
    assert cart_lines(settings) == [("HONEY-250", 10)]


def test_concurrent_adds_never_pass_the_stock(settings):
    honey = variant_id(settings, "HONEY-500")  # 3 in stock
    token = new_token()

    async def run() -> list[object]:
        database = Database(settings.database_url)
        catalog = Catalog(database, LANGUAGES, "en")
        try:
            return await asyncio.gather(
                *(add_to_cart(database, catalog, token, honey, 1, 99) for _ in range(6)), return_exceptions=True
            )
        finally:
            await database.dispose()

    outcomes = asyncio.run(run())
    assert sum(outcome is None for outcome in outcomes) == 3
    refused = [outcome for outcome in outcomes if outcome is not None]
    assert all(isinstance(outcome, CartError) and outcome.status_code == 409 for outcome in refused)
    assert cart_lines(settings) == [("HONEY-500", 3)]


@pytest.mark.parametrize(
    ("sku", "quantity", "status"),
    [("BELL", 1, 409), ("HONEY-500", 4, 409), ("SOCKS-OLD", 1, 404), ("HIDDEN-1", 1, 404), ("HONEY-250", 100, 400)],
)
def test_an_add_that_is_refused_makes_no_cart(settings, sku, quantity, status):
    """Sold out, more than the stock, a variant or a product off sale, more than the most per line:
    the visitor is told why, and no empty cart is left behind for them."""
    variant = variant_id(settings, sku)
    with pytest.raises(CartError) as refused:
        with_database(settings, lambda db, catalog: add_to_cart(db, catalog, new_token(), variant, quantity, 99))
    assert refused.value.status_code == status
    assert (count(settings, "cart"), count(settings, "cart_line")) == (0, 0)


def test_an_add_beyond_the_most_per_line_is_refused_and_the_line_kept(settings):
    token = new_token()
    honey = variant_id(settings, "HONEY-250")
    with_database(settings, lambda db, catalog: add_to_cart(db, catalog, token, honey, 9, 10))  # 40 in stock
    with pytest.raises(CartError, match="10") as refused:
        with_database(settings, lambda db, catalog: add_to_cart(db, catalog, token, honey, 2, 10))
    assert refused.value.status_code == 400
    assert cart_lines(settings) == [("HONEY-250", 9)]
    with_database(settings, lambda db, catalog: add_to_cart(db, catalog, token, honey, 1, 10))
    assert cart_lines(settings) == [("HONEY-250", 10)]


def test_carts_left_unchanged_for_the_set_number_of_days_are_deleted_with_their_lines(settings):
    fill_cart(settings, ("MUG", 1))
    fill_cart(settings, ("SOCKS-39", 2))
    execute(
        settings.database_url,
        "UPDATE cart SET updated_at = :then WHERE id = (SELECT min(id) FROM cart)",
        then=dt.datetime.now(dt.UTC) - dt.timedelta(days=61),
    )
    assert (count(settings, "cart"), count(settings, "cart_line")) == (2, 2)
    deleted = with_database(settings, lambda db, _c: expire_carts(db, dt.timedelta(days=60)))
    assert deleted == 1
    assert (count(settings, "cart"), count(settings, "cart_line")) == (1, 1)  # the recent one stays, whole
    assert with_database(settings, lambda db, _c: expire_carts(db, dt.timedelta(days=60))) == 0
