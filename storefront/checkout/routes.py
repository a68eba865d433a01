"""Checkout: the form (delivery address and shipping), then the order is placed (stock reserved)
and its PaymentIntent created, then the review page with the binding "Pay with TWINT"."""

from __future__ import annotations

from litestar import get, post
from litestar.di import NamedDependency
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from storefront.checkout.form import COUNTRIES, CheckoutForm
from storefront.checkout.shipping import SHIPPING_METHODS
from storefront.i18n import gettext as _
from storefront.orders.service import OrderRefused, place_order
from storefront.page_state import read_page_state
from storefront.payments.checkout import start_payment
from storefront.web import Shop, cart_token, render, swiss_today


def _refusal(refused: OrderRefused) -> str:
    if refused.reason == "sold_out":
        return _("Sorry, not enough left of: %(items)s. Please change your cart.") % {"items": ", ".join(refused.items)}
    if refused.reason == "unavailable":
        return _("Some items are no longer available: %(items)s. Please change your cart.") % {
            "items": ", ".join(refused.items)
        }
    if refused.reason == "above_twint_limit":
        return _("TWINT accepts payments up to CHF 5'000. Please split your order into smaller ones.")
    if refused.reason == "below_twint_limit":
        return _("TWINT accepts payments from CHF 0.50.")
    return _("Your cart is empty.")


async def _form_page(
    request: HTMXRequest, shop: Shop, form: CheckoutForm, *, status_code: int = 200, error: str | None = None
) -> Template | Redirect:
    state = await read_page_state(shop, request)
    if not state.cart.lines:
        return Redirect("/cart", status_code=303)
    return render(
        shop,
        request,
        "checkout/form.html",
        status_code=status_code,
        cart=state.cart,
        form=form,
        methods=SHIPPING_METHODS,
        countries=COUNTRIES,
        free_shipping_from=shop.settings.free_shipping_from,
        error=error,
        headers={"Cache-Control": "no-store"},
    )


@get("/checkout", name="checkout")
async def checkout_page(request: HTMXRequest, shop: NamedDependency[Shop]) -> Template | Redirect:
    return await _form_page(request, shop, CheckoutForm.empty())


@post("/checkout", name="checkout_place")
async def place(request: HTMXRequest, shop: NamedDependency[Shop]) -> Template | Redirect:
    form = CheckoutForm.read(dict(await request.form()))
    token = cart_token(request)
    if not form.valid or token is None:
        return await _form_page(request, shop, form, status_code=422)
    try:
        placed = await place_order(
            shop.database,
            shop.catalog,
            token,
            form.customer(),
            form.shipping(),
            swiss_today(),
            free_shipping_from=shop.settings.free_shipping_from,
        )
    except OrderRefused as refused:
        return await _form_page(request, shop, form, status_code=409, error=_refusal(refused))
    await start_payment(shop, placed.id)
    return Redirect(f"/orders/{placed.public_token}/pay", status_code=303)
