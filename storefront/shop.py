"""The parts of a running shop that request handlers share (settings, database, catalogue,
assets, the payment provider), handed to them by dependency injection."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import State

from storefront.assets import AssetManifest
from storefront.cart.cookie import cart_token
from storefront.cart.page_reads import PageState, read_page_state
from storefront.catalog.service import Catalog, CatalogSnapshot
from storefront.db import Database
from storefront.payments.gateway import StripeGateway
from storefront.settings import Settings


@dataclass(frozen=True, slots=True)
class Shop:
    settings: Settings
    database: Database
    catalog: Catalog
    assets: AssetManifest
    payments: StripeGateway

    async def read_page(
        self,
        request: Request[Any, Any, Any],
        shown: Callable[[CatalogSnapshot], Iterable[int]] | None = None,
        token: str | None = None,
    ) -> PageState:
        """What a page reads fresh: the visitor's cart and the stock of the variants it shows."""
        return await read_page_state(self.database, self.catalog, token or cart_token(request), shown)


def provide_shop(state: State) -> Shop:
    shop: Shop = state.shop
    return shop
