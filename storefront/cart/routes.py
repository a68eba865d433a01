"""Cart pages and changes. Each change is a form POST: htmx swaps only what changed and the
header's count out of band; without JavaScript the browser follows a 303 to the cart."""

from __future__ import annotations

from litestar import get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from storefront.cart.cookie import cart_cookie, cart_token
from storefront.cart.service import (
    CartError,
    add_to_cart,
    parse_quantity,
    parse_variant_id,
    remove_line,
    set_quantity,
)
from storefront.catalog.service import CatalogSnapshot
from storefront.i18n import gettext as _
from storefront.i18n import localized
from storefront.rendering import render, wants_fragment
from storefront.shop import Shop
from storefront.tables import RowId
from storefront.tokens import new_token


async def _single(request: HTMXRequest, name: str) -> str | None:
    """One value of a form field; a field sent twice is refused rather than guessed at."""
    values = (await request.form()).getall(name, [])
    if len(values) > 1:
        raise CartError(_("The form was sent with a field twice. Please try again."), 400)
    return values[0] if values else None


def _after_change(request: HTMXRequest, cookies: list[Cookie] | None = None) -> Redirect | None:
    if wants_fragment(request):
        return None
    return Redirect(localized("/cart"), status_code=303, cookies=cookies)


@get("/cart", name="cart")
async def cart_page(request: HTMXRequest, shop: NamedDependency[Shop]) -> Template:
    state = await shop.read_page(request)
    return render(shop.settings, request, "cart/page.html", cart=state.cart)


@get("/cart/badge", name="cart_badge")
async def cart_badge(request: HTMXRequest, shop: NamedDependency[Shop]) -> Template:
    """The header's cart link with its count, for pages that could not read the cart themselves
    (error pages, which read nothing that might be what failed): htmx fetches it after the page."""
    state = await shop.read_page(request)
    return render(shop.settings, request, "cart/_badge.html", cart=state.cart, headers={"Cache-Control": "no-store"})


@post("/cart/lines", name="cart_add")
async def add_line(request: HTMXRequest, shop: NamedDependency[Shop]) -> Template | Redirect:
    token = cart_token(request)
    cookies = None
    if token is None:  # the visitor's first line: their cart begins here
        token = new_token()
        cookies = [cart_cookie(token, secure=shop.settings.secure_cookies)]
    raw_quantity = variant_id = None
    try:
        variant_id = parse_variant_id(await _single(request, "variant_id"))
        raw_quantity = await _single(request, "quantity")
        quantity = parse_quantity(raw_quantity, shop.settings.max_line_quantity)
        await add_to_cart(shop.database, shop.catalog, token, variant_id, quantity, shop.settings.max_line_quantity)
    except CartError as error:
        return await _add_form(request, shop, variant_id, error=error, entered_quantity=raw_quantity)
    redirect = _after_change(request, cookies)
    if redirect is not None:
        return redirect
    return await _add_form(request, shop, variant_id, cookies=cookies, token=token, message=_("Added to your cart."))


async def _add_form(
    request: HTMXRequest,
    shop: Shop,
    variant_id: int | None,
    *,
    error: CartError | None = None,
    message: str | None = None,
    entered_quantity: str | None = None,
    cookies: list[Cookie] | None = None,
    token: str | None = None,
) -> Template:
    """The product page's add-to-cart form again, with its outcome; the whole page without htmx."""

    def product_variant_ids(snapshot: CatalogSnapshot) -> list[int]:
        chosen = snapshot.variants.get(variant_id) if variant_id is not None else None
        return [v.id for v in snapshot.products[chosen.product_id].variants] if chosen else []

    state = await shop.read_page(request, product_variant_ids, token=token)
    variant = state.snapshot.variants.get(variant_id) if variant_id is not None else None
    product = state.snapshot.products.get(variant.product_id) if variant else None
    if product is None or not product.active:
        # No product page to return to: say so where the customer is.
        return render(
            shop.settings,
            request,
            "errors/error.html",
            block="notice",
            status_code=error.status_code if error else 404,
            cart=state.cart,
            title=_("Not available"),
            detail=error.message if error else _("This item is not available."),
        )
    selected = variant.id if variant and state.stock.of(variant.id) > 0 else state.stock.first_available(product)
    return render(
        shop.settings,
        request,
        "catalog/product.html",
        block="add_form",
        status_code=error.status_code if error else 200,
        cookies=cookies,
        product=product,
        stock=state.stock,
        cart=state.cart,
        selected_variant_id=selected,
        error=error.message if error else None,
        message=message,
        entered_quantity=entered_quantity if error else None,
    )


@post("/cart/lines/{variant_id:int}", name="cart_update")
async def update_line(request: HTMXRequest, shop: NamedDependency[Shop], variant_id: RowId) -> Template | Redirect:
    raw_quantity = None
    try:
        raw_quantity = await _single(request, "quantity")
        quantity = parse_quantity(raw_quantity, shop.settings.max_line_quantity)
        await set_quantity(shop.database, shop.catalog, cart_token(request), variant_id, quantity)
    except CartError as error:
        return await _cart_block(request, shop, error=error, error_variant_id=variant_id, entered_quantity=raw_quantity)
    return _after_change(request) or await _cart_block(request, shop)


@post("/cart/lines/{variant_id:int}/delete", name="cart_remove")
async def delete_line(request: HTMXRequest, shop: NamedDependency[Shop], variant_id: RowId) -> Template | Redirect:
    await remove_line(shop.database, cart_token(request), variant_id)
    return _after_change(request) or await _cart_block(request, shop)


async def _cart_block(
    request: HTMXRequest,
    shop: Shop,
    *,
    error: CartError | None = None,
    error_variant_id: int | None = None,
    entered_quantity: str | None = None,
) -> Template:
    state = await shop.read_page(request)
    in_cart = error_variant_id is not None and state.cart.quantity_of(error_variant_id) > 0
    return render(
        shop.settings,
        request,
        "cart/page.html",
        block="cart",
        status_code=error.status_code if error else 200,
        cart=state.cart,
        error=error.message if error else None,
        error_variant_id=error_variant_id if in_cart else None,
        entered_quantity=entered_quantity,
    )
