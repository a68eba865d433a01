"""The shop as served in production, plus the benchmark's ceilings (`bench/ceilings.py`) behind the
shop's whole request pipeline.

Without Stripe keys the shop comes with its offline Stripe sandbox (`storefront.devserver`), through
which the benchmark buys the order whose status page it polls."""

from __future__ import annotations

from litestar import Litestar

from bench.ceilings import ceiling_router
from storefront.devserver import create_app
from storefront.shop import Shop

CEILING_PATH = "/_bench/ceiling"


def create_bench_app() -> Litestar:
    app = create_app()
    shop: Shop = app.state.shop
    app.register(ceiling_router(CEILING_PATH, shop.database, shop.settings))
    return app
