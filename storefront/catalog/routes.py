"""Catalogue pages: the product listing and the product page."""

from __future__ import annotations

from typing import Annotated

from litestar import get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, Parameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from storefront.catalog.service import CatalogSnapshot, ProductView
from storefront.checkout.form import EMAIL_PATTERN
from storefront.i18n import current_language, localized
from storefront.i18n import gettext as _
from storefront.orders import stock_alerts
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
        alternates=product_addresses(product),
    )


def product_addresses(product: ProductView) -> dict[str, str]:
    """The product page's address in each language (its slug differs by language)."""
    return {language: localized(f"/products/{slug}", language) for language, slug in product.slugs.items()}


@post("/products/{slug:str}/stock-alerts", name="stock_alert_ask", status_code=200)
async def ask_for_stock_alert(request: HTMXRequest, shop: NamedDependency[Shop], slug: FromPath[str]) -> Template:
    """“Notify me when it is back”: with htmx the form's part of the page, else the whole page."""
    form = await request.form()
    state = await shop.read_page(
        request, lambda snapshot: [v.id for v in snapshot.by_slug[slug].variants] if slug in snapshot.by_slug else []
    )
    product = state.snapshot.by_slug.get(slug)
    if product is None:
        raise NotFoundException()
    email = str(form.get("email") or "").strip()
    chosen = str(form.get("variant_id") or "")
    variant = next((v for v in product.variants if str(v.id) == chosen), None)
    error = None
    if variant is None:
        error = _("Please choose the option you are waiting for.")
    elif state.stock.of(variant.id) > 0:
        error = _("This option is in stock: you can order it now.")
    elif len(email) > 254 or not EMAIL_PATTERN.fullmatch(email):
        error = _("Please enter your e-mail address, e.g. anna@example.ch.")
    if variant is not None and error is None:
        await stock_alerts.ask(
            shop.database,
            variant_id=variant.id,
            email=email,
            language=current_language(),
            item=stock_alerts.item_name(state.snapshot, variant.id) or product.name,
            base_url=shop.settings.base_url,
        )
    return render(
        shop.settings,
        request,
        "catalog/product.html",
        block="stock_alert",
        status_code=422 if error else 200,
        product=product,
        stock=state.stock,
        cart=state.cart,
        selected_variant_id=state.stock.first_available(product),
        alert_error=error,
        alert_email=email,
        alert_variant_id=variant.id if variant else None,
        alert_sent=error is None,
        alternates=product_addresses(product),
    )


async def _alert_page(request: HTMXRequest, shop: Shop, token: str, *, cancelled: bool = False) -> Template:
    alert = await stock_alerts.find(shop.database, token)
    if alert is None and not cancelled:
        raise NotFoundException()
    state = await shop.read_page(request)
    variant = state.snapshot.variants.get(alert.variant_id) if alert else None
    product = state.snapshot.products.get(variant.product_id) if variant else None
    return render(
        shop.settings,
        request,
        "catalog/stock_alert.html",
        cart=state.cart,
        alert=alert,
        item=stock_alerts.item_name(state.snapshot, alert.variant_id) if alert else None,
        product=product if product is not None and product.active and product.variants else None,
        token=token,
        cancelled=cancelled,
        headers={"Cache-Control": "no-store"},
    )


@get("/stock-alerts/{token:str}", name="stock_alert")
async def stock_alert_page(request: HTMXRequest, shop: NamedDependency[Shop], token: FromPath[str]) -> Template:
    """The page the e-mailed link opens: it asks to confirm (a link alone changes nothing, as mail
    scanners open links), or tells where the request stands, and lets the customer cancel it."""
    return await _alert_page(request, shop, token)


@post("/stock-alerts/{token:str}", name="stock_alert_answer", status_code=200)
async def answer_stock_alert(
    request: HTMXRequest, shop: NamedDependency[Shop], token: FromPath[str]
) -> Template | Redirect:
    action = (await request.form()).get("action")
    if action == "confirm":
        if not await stock_alerts.confirm(shop.database, token):
            raise NotFoundException()
        return Redirect(localized(f"/stock-alerts/{token}"), status_code=303)
    if action == "cancel":
        if not await stock_alerts.cancel(shop.database, token):
            raise NotFoundException()
        return await _alert_page(request, shop, token, cancelled=True)
    raise ClientException(_("The form was sent without its button. Please try again."))


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
