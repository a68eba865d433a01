"""Checkout: the form (delivery address and shipping), then the order is placed (stock reserved)
and its payment started, then the review page with the binding "Pay with TWINT"; and the return
from TWINT."""

from __future__ import annotations

import hmac

from litestar import get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from storefront import twint
from storefront.cart.cookie import cart_token
from storefront.checkout.form import CheckoutForm
from storefront.i18n import current_language, localized
from storefront.i18n import gettext as _
from storefront.money import format_chf, swiss_today
from storefront.orders.lifecycle import start_payment
from storefront.orders.placing import HoardingLimits, OrderRefused, client_reference, place_order
from storefront.orders.views import find_order, order_id_of_intent
from storefront.rendering import NO_STORE, render
from storefront.shipping import COUNTRIES, SHIPPING_METHODS
from storefront.shop import Shop
from storefront.tokens import token_hash


def _refusal(refused: OrderRefused) -> str:
    if refused.reason == "sold_out":
        return _("Sorry, not enough left of: %(items)s. Please change your cart.") % {"items": ", ".join(refused.items)}
    if refused.reason == "unavailable":
        return _("Some items are no longer available: %(items)s. Please change your cart.") % {
            "items": ", ".join(refused.items)
        }
    if refused.reason == "above_twint_limit":
        return _("TWINT accepts payments up to %(limit)s. Please split your order into smaller ones.") % {
            "limit": format_chf(twint.MAX_AMOUNT, current_language(), whole=True)
        }
    if refused.reason == "too_many_unpaid":
        return _(
            "There are already several unpaid orders from your connection. Please pay one of them, "
            "or try again in a few minutes."
        )
    if refused.reason == "too_many_orders":
        return _("Too many orders have come from your connection in the last hour. Please try again later.")
    if refused.reason == "below_twint_limit":
        return _("TWINT accepts payments from %(limit)s.") % {
            "limit": format_chf(twint.MIN_AMOUNT, current_language(), whole=True)
        }
    return _("Your cart is empty.")


async def _form_page(
    request: HTMXRequest, shop: Shop, form: CheckoutForm, *, status_code: int = 200, error: str | None = None
) -> Template | Redirect:
    state = await shop.read_page(request)
    if not state.cart.lines:
        return Redirect(localized("/cart"), status_code=303)
    return render(
        shop.settings,
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
            client=client_reference(shop.settings.secret_key, request.client.host if request.client else "unknown"),
            limits=HoardingLimits(shop.settings.unpaid_per_address, shop.settings.orders_per_address_per_hour),
        )
    except OrderRefused as refused:
        return await _form_page(request, shop, form, status_code=409, error=_refusal(refused))
    await start_payment(shop.database, shop.payments, placed.id)
    return Redirect(localized(f"/orders/{placed.public_token}/pay"), status_code=303)


@get("/checkout/return", name="checkout_return")
async def checkout_return(
    shop: NamedDependency[Shop],
    payment_intent: FromQuery[str] = "",
    payment_intent_client_secret: FromQuery[str] = "",
) -> Redirect:
    """TWINT sends the customer here with the PaymentIntent and its client secret in the address:
    both are checked against the order, then the customer moves on to a clean address with no
    secret in it (docs/payments.md, "The return from TWINT")."""
    order_id = await order_id_of_intent(shop.database, payment_intent) if payment_intent else None
    order = await find_order(shop.database, order_id=order_id) if order_id is not None else None
    payment = next((p for p in order.payments if p.intent_id == payment_intent), None) if order else None
    if (
        order is None
        or payment is None
        or not payment.client_secret_hash
        or not hmac.compare_digest(token_hash(payment_intent_client_secret), payment.client_secret_hash)
    ):
        raise NotFoundException()
    return Redirect(localized(f"/orders/{order.public_token}"), status_code=303, headers=NO_STORE)
