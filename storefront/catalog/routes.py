"""Catalogue pages: the product listing and the product page."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from storefront.catalog.service import CatalogSnapshot, ProductView
from storefront.i18n import localized
from storefront.rendering import render
from storefront.shop import Shop


@get("/", name="catalog")
async def catalog_page(
    request: HTMXRequest, shop: NamedDependency[Shop], page: Annotated[int, Parameter(ge=1, le=100_000)] = 1
) -> Template:
    size = shop.settings.page_size
    state = await shop.read_page(
        request, lambda snapshot: [v.id for p in snapshot.page(page, size) for v in p.variants]
    )
    if page > state.snapshot.page_count(size):
        raise NotFoundException()
    return render(
        shop.settings,
        request,
        "catalog/index.html",
        products=state.snapshot.page(page, size),
        page=page,
        page_count=state.snapshot.page_count(size),
        page_links=page_window(page, state.snapshot.page_count(size)),
        stock=state.stock,
        cart=state.cart,
    )


@get("/products/{slug:str}", name="product")
async def product_page(request: HTMXRequest, shop: NamedDependency[Shop], slug: FromPath[str]) -> Template | Redirect:
    state = await shop.read_page(
        request,
        lambda snapshot: (
            [v.id for p in [snapshot.by_slug[slug], *related(snapshot, slug)] for v in p.variants]
            if slug in snapshot.by_slug
            else []
        ),
    )
    product = state.snapshot.by_slug.get(slug)
    if product is None:
        if slug in state.snapshot.other_slugs:  # the product's address in another language
            return Redirect(localized(f"/products/{state.snapshot.other_slugs[slug]}"), status_code=301)
        raise NotFoundException()
    return render(
        shop.settings,
        request,
        "catalog/product.html",
        product=product,
        stock=state.stock,
        cart=state.cart,
        selected_variant_id=state.stock.first_available(product),
        related=[p for p in related(state.snapshot, slug) if not state.stock.sold_out(p)]
        if state.stock.sold_out(product)
        else [],
        alternates={language: localized(f"/products/{slug}", language) for language, slug in product.slugs.items()},
    )


RELATED = 3


def related(snapshot: CatalogSnapshot, slug: str) -> list[ProductView]:
    """The products after this one in the catalogue (from the start again), to offer when it is
    sold out: a few to check, so their stock is read with the page's."""
    listing = snapshot.listing
    at = snapshot.positions.get(slug, 0)
    return [listing[(at + step) % len(listing)] for step in range(1, min(len(listing), RELATED * 2 + 1))]


def page_window(page: int, page_count: int, around: int = 2) -> list[int | None]:
    """The page numbers to link: first, last and a few around the current one; None marks a gap.
    Built here so a catalogue of thousands of pages costs no more than one of three."""
    shown = sorted({1, page_count, *range(max(1, page - around), min(page_count, page + around) + 1)})
    links: list[int | None] = []
    for number in shown:
        if links and number - links[-1] > 1:
            links.append(None)
        links.append(number)
    return links
