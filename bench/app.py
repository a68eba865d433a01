"""The shop as served in production, plus one route for the benchmark's ceiling: the product page
rendered by the same template and the same `render()` from data held in memory (no database)."""

from __future__ import annotations

from litestar import Litestar, get
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from storefront.app import create_app
from storefront.cart.service import CartLineView, CartView
from storefront.catalog.service import Stock, load_snapshot
from storefront.web import Shop, render


def create_bench_app() -> Litestar:
    app = create_app()
    shop: Shop = app.state.shop
    memory: dict[str, object] = {}

    async def load_into_memory() -> None:
        async with shop.database.read() as connection:
            snapshot = await load_snapshot(connection)
        stock = Stock(dict.fromkeys(snapshot.variants, 50))
        first_two = [product.variants[0] for product in snapshot.listing[:2]]
        cart = CartView(tuple(CartLineView(snapshot.products[v.product_id], v, 1, 50) for v in first_two))
        memory.update(snapshot=snapshot, stock=stock, cart=cart)

    @get("/_bench/ceiling/{slug:str}", include_in_schema=False)
    async def ceiling(request: HTMXRequest, slug: FromPath[str]) -> Template:
        if not memory:
            await load_into_memory()
        product = memory["snapshot"].by_slug[slug]
        stock = memory["stock"]
        return render(
            shop,
            request,
            "catalog/product.html",
            product=product,
            stock=stock,
            cart=memory["cart"],
            selected_variant_id=stock.first_available(product),
        )

    app.register(ceiling)
    return app
