"""The benchmark's ceilings: each measured page's template rendered by the same `render()` from data
held in memory (no database, no session, no cart cookie read). The same routes are served twice:
inside the shop, behind its whole request pipeline (`bench/app.py`), and by a bare Litestar app
with no middleware and no plugins (`bench/bare.py`). Measured against each other and against the
real pages they tell apart what the framework costs, what the shop's pipeline adds, and what the
page's own database work adds. So that they measure the same work, the product and catalogue
ceilings inside the shop answer the very page the shop serves a visitor with the same cart (a test
holds them to it); the bare app's lack only the form's CSRF token, having no CSRF middleware."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, Router, get
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select

from storefront.admin.accounts import StaffMember
from storefront.admin.models import Role
from storefront.admin.routes import HEADERS, TABS
from storefront.cart.service import CartLineView, CartView
from storefront.catalog.routes import page_window, product_addresses
from storefront.catalog.service import CatalogSnapshot, Stock, load_snapshots, read_stock
from storefront.db import Database
from storefront.i18n import gettext, localized, set_language
from storefront.orders.backoffice import OrderList, Tab, list_orders
from storefront.orders.views import OrderView, find_order, order_t
from storefront.rendering import NO_STORE, render
from storefront.settings import LANGUAGES, Settings

# The catalogue's address in each language, as its page names them (/de/, /fr/, …).
CATALOGUE_ADDRESSES = {code: localized("/", code) for code in LANGUAGES}
BENCH_OWNER = StaffMember(id=0, email="bench@example.ch", role=Role.OWNER)
LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class InMemory:
    """What the ceilings render: the catalogue with its stock as it was loaded, a cart of 2 lines
    (the first variant of the listing's first two products, one of each), the newest paid order (if
    any) and the back office's first page of orders to ship."""

    snapshot: CatalogSnapshot
    stock: Stock
    cart: CartView
    order: OrderView | None
    orders: OrderList


async def load_into_memory(database: Database, settings: Settings) -> InMemory:
    async with database.read() as connection:
        snapshot = (await load_snapshots(connection, LANGUAGES, settings.default_language))[LANGUAGE]
        token = await connection.scalar(
            select(order_t.c.public_token)
            .where(order_t.c.status == "paid")
            .order_by(order_t.c.created_at.desc())
            .limit(1)
        )
        stock = await read_stock(connection, snapshot.variants)
    first_two = [product.variants[0] for product in snapshot.listing[:2]]
    cart = CartView(tuple(CartLineView(snapshot.products[v.product_id], v, 1, stock.of(v.id)) for v in first_two))
    order = await find_order(database, token=token) if token else None
    return InMemory(snapshot, stock, cart, order, await list_orders(database, Tab.TO_SHIP))


def ceiling_router(path: str, database: Database, settings: Settings) -> Router:
    """GET {path}/plain, /product/{slug}, /catalog, /add-form (htmx), /status (htmx), /admin-orders."""
    held: list[InMemory] = []  # loaded on the first request (the database is ready by then)
    loading = asyncio.Lock()  # by one request: the others of the first burst wait for it

    async def memory() -> InMemory:
        if not held:
            async with loading:
                if not held:
                    held.append(await load_into_memory(database, settings))
        set_language(LANGUAGE)
        return held[0]

    # Left out of CSRF as the shop leaves /healthz, the page measured against it.
    @get("/plain", media_type="text/plain", sync_to_thread=False, opt={"exclude_from_csrf": True})
    def plain() -> Response[bytes]:
        return Response(b"ok", media_type="text/plain")

    @get("/product/{slug:str}")
    async def product(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
        data = await memory()
        shown = data.snapshot.by_slug[slug]
        return render(
            settings,
            request,
            "catalog/product.html",
            product=shown,
            stock=data.stock,
            cart=data.cart,
            selected_variant_id=data.stock.first_available(shown),
            related=[],
            alternates=product_addresses(shown),
        )

    @get("/catalog")
    async def catalog(request: Request[Any, Any, Any]) -> Template:
        data = await memory()
        size = settings.page_size
        count = data.snapshot.page_count(size)
        return render(
            settings,
            request,
            "catalog/index.html",
            products=data.snapshot.page(1, size),
            page=1,
            page_count=count,
            page_links=page_window(1, count),
            stock=data.stock,
            cart=data.cart,
            alternates=CATALOGUE_ADDRESSES,
        )

    @get("/add-form/{slug:str}")
    async def add_form(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
        """What an htmx add-to-cart answers: the product's form with "Added to your cart."."""
        data = await memory()
        shown = data.snapshot.by_slug[slug]
        return render(
            settings,
            request,
            "catalog/product.html",
            block="add_form",
            product=shown,
            stock=data.stock,
            cart=data.cart,
            selected_variant_id=data.stock.first_available(shown),
            error=None,
            message=gettext("Added to your cart."),
            entered_quantity=None,
        )

    @get("/status")
    async def status(request: Request[Any, Any, Any]) -> Template:
        data = await memory()
        assert data.order is not None, "the status ceiling needs a paid order in the database"
        return render(
            settings,
            request,
            "orders/page.html",
            block="status",
            order=data.order,
            cart=data.cart,
            headers=NO_STORE,
        )

    @get("/admin-orders")
    async def admin_orders(request: Request[Any, Any, Any]) -> Template:
        data = await memory()
        return render(
            settings,
            request,
            "admin/orders.html",
            cart=None,
            listing=data.orders,
            tabs=TABS,
            staff=BENCH_OWNER,
            headers=HEADERS,
        )

    return Router(
        path,
        route_handlers=[plain, product, catalog, add_form, status, admin_orders],
        include_in_schema=False,
    )
