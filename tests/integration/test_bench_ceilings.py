"""`make bench` divides each page's figure by a ceiling: the same page rendered from memory. A
ceiling that renders less than the page (no canonical address, no alternates, another cart) would
flatter or shame the shop by work it does not do, so the ceilings inside the shop must answer the
very page the shop serves."""

import pytest
from litestar.testing import TestClient

from bench.app import CEILING_PATH
from bench.ceilings import ceiling_router
from storefront.app import create_app
from tests.support.http import form


@pytest.fixture
def shop_with_ceilings(settings):
    app = create_app(settings)
    app.register(ceiling_router(CEILING_PATH, app.state.shop.database, settings))
    with TestClient(app=app) as client:
        client.get("/en/")  # the CSRF and language cookies, as the benchmark's visitor has them
        # The ceilings' cart: one of the first variant of each of the listing's first two products.
        for product in app.state.shop.catalog.snapshots["en"].listing[:2]:
            added = client.post("/en/cart/lines", data=form(client, variant_id=product.variants[0].id, quantity=1))
            assert added.status_code == 200, added.text
        yield client


@pytest.mark.parametrize(
    ("address", "ceiling"),
    [("/en/products/honey", "/product/honey"), ("/en/", "/catalog")],
    ids=["product", "catalogue"],
)
def test_a_ceiling_answers_the_same_page_as_the_shop(shop_with_ceilings, address, ceiling):
    real = shop_with_ceilings.get(address)
    from_memory = shop_with_ceilings.get(CEILING_PATH + ceiling)
    assert real.status_code == from_memory.status_code == 200
    assert '<link rel="alternate" hreflang="fr"' in real.text  # (the part the ceilings once left out)
    assert from_memory.text == real.text
    assert "set-cookie" not in real.headers  # a visitor who has the shop's cookies is sent none again
