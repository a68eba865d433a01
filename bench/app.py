"""The shop as served in production, plus the benchmark's ceilings: the product page and the back
office's orders list, each rendered by the same template and the same `render()` from data held
in memory (no database, no session).

Without Stripe keys the shop comes with its offline Stripe sandbox (`storefront.devserver`), through
which the benchmark buys the order whose status page it polls."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar, get
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from storefront.admin.accounts import StaffMember
from storefront.admin.models import Role
from storefront.admin.routes import HEADERS, TABS
from storefront.cart.service import CartLineView, CartView
from storefront.catalog.service import CatalogSnapshot, Stock, load_snapshots
from storefront.devserver import create_app
from storefront.orders.backoffice import OrderList, Tab, list_orders
from storefront.rendering import render
from storefront.shop import Shop


@dataclass(frozen=True, slots=True)
class InMemory:
    """What the ceiling renders: the catalogue, every variant 50 in stock, a cart of 2 lines."""

    snapshot: CatalogSnapshot
    stock: Stock
    cart: CartView


def create_bench_app() -> Litestar:
    app = create_app()
    shop: Shop = app.state.shop
    memory: list[InMemory] = []  # loaded on the first request (the database is ready by then)

    async def load_into_memory() -> InMemory:
        async with shop.database.read() as connection:
            snapshot = (await load_snapshots(connection, ["en"], shop.settings.default_language))["en"]
        stock = Stock(dict.fromkeys(snapshot.variants, 50))
        first_two = [product.variants[0] for product in snapshot.listing[:2]]
        cart = CartView(tuple(CartLineView(snapshot.products[v.product_id], v, 1, 50) for v in first_two))
        return InMemory(snapshot=snapshot, stock=stock, cart=cart)

    @get("/_bench/ceiling/{slug:str}", include_in_schema=False)
    async def ceiling(request: HTMXRequest, slug: FromPath[str]) -> Template:
        if not memory:
            memory.append(await load_into_memory())
        held = memory[0]
        product = held.snapshot.by_slug[slug]
        return render(
            shop.settings,
            request,
            "catalog/product.html",
            product=product,
            stock=held.stock,
            cart=held.cart,
            selected_variant_id=held.stock.first_available(product),
        )

    orders_held: list[OrderList] = []

    @get("/_bench/ceiling/admin-orders", include_in_schema=False)
    async def orders_ceiling(request: HTMXRequest) -> Template:
        if not orders_held:
            orders_held.append(await list_orders(shop.database, Tab.TO_SHIP))
        return render(
            shop.settings,
            request,
            "admin/orders.html",
            cart=None,
            listing=orders_held[0],
            tabs=TABS,
            staff=BENCH_OWNER,
            headers=HEADERS,
        )

    app.register(ceiling)
    app.register(orders_ceiling)
    return app


BENCH_OWNER = StaffMember(id=0, email="bench@example.ch", role=Role.OWNER)
