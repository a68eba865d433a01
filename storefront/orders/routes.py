"""An order's pages: the review page that hands over to TWINT, and the order page whose status
polls until the payment is final."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from storefront.cart.cookie import cart_token
from storefront.cart.page_reads import PageState
from storefront.catalog.service import CatalogSnapshot
from storefront.i18n import localized
from storefront.orders.lifecycle import apply_payment_state, record_hand_over, start_payment, sync_payment
from storefront.orders.models import PaymentStatus
from storefront.orders.provider import PaymentMovedOn, PaymentUnavailable
from storefront.orders.timeline import Source
from storefront.orders.views import OrderView, find_order, find_order_with_page_state
from storefront.rendering import NO_STORE, render
from storefront.shop import Shop


def _summary(shop: Shop, snapshot: CatalogSnapshot) -> dict[str, Any]:
    """What an order's summary shows beside its lines: their pictures, and where to pick it up."""
    return {
        "snapshot": snapshot,
        "shop_address": shop.settings.company_address,
        "pickup_hours": shop.settings.pickup_hours,
    }


def _return_url(shop: Shop, order: OrderView) -> str:
    """Where TWINT sends the customer back: the shop, in the language they ordered in."""
    return f"{shop.settings.base_url}/{order.language}/checkout/return"


async def _order(shop: Shop, token: str) -> OrderView:
    order = await find_order(shop.database, token=token)
    if order is None:
        raise NotFoundException()  # the same answer for any unknown or guessed token
    return order


async def _order_and_page_state(
    request: HTMXRequest, shop: Shop, token: str, source: Source | None
) -> tuple[OrderView, PageState]:
    """The order and the page state, read together; with a `source`, the order is first brought
    up to date with Stripe if its payment is pending (see `sync_payment`)."""
    found, state = await find_order_with_page_state(shop.database, shop.catalog, token, cart_token(request))
    if found is None:
        raise NotFoundException()  # the same answer for any unknown or guessed token
    if source is None:
        return found, state
    order = await sync_payment(shop.database, shop.payments, found, source)
    if order is not found:  # the payment moved on, and a paid order empties the cart
        state = await shop.read_page(request)
    return order, state


@get("/orders/{token:str}/pay", name="order_pay")
async def pay_page(request: HTMXRequest, shop: NamedDependency[Shop], token: FromPath[str]) -> Template | Redirect:
    order, state = await _order_and_page_state(request, shop, token, None)
    if order.final:
        return Redirect(localized(f"/orders/{token}"), status_code=303)
    context: dict[str, Any] = {
        "order": order,
        "cart": state.cart,
        "headers": NO_STORE,
        **_summary(shop, state.snapshot),
    }
    if order.payment is None:
        return render(shop.settings, request, "orders/pay.html", status_code=503, unavailable=True, **context)
    try:
        intent = await shop.payments.retrieve_intent(order.payment.intent_id)
    except PaymentUnavailable:
        return render(shop.settings, request, "orders/pay.html", status_code=503, unavailable=True, **context)
    if intent.status in {PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED}:
        await apply_payment_state(shop.database, intent, Source.PAY_PAGE)  # the intent just read
        return Redirect(localized(f"/orders/{token}"), status_code=303)
    return render(
        shop.settings,
        request,
        "orders/pay.html",
        client_secret=intent.client_secret,
        publishable_key=shop.settings.stripe_publishable_key,
        stripe_js_url=shop.settings.stripe_js_url,
        return_url=_return_url(shop, order),
        **context,
    )


@post("/orders/{token:str}/pay", name="order_hand_over", status_code=303)
async def hand_over(shop: NamedDependency[Shop], token: FromPath[str]) -> Redirect:
    """The pay button without JavaScript (or when Stripe.js could not load) posts here: the shop
    confirms the payment with TWINT itself and sends the customer there; TWINT sends them back
    to the order, as after Stripe.js."""
    order = await _order(shop, token)
    payment = order.payment
    if order.final or payment is None or payment.status not in {PaymentStatus.PENDING, PaymentStatus.FAILED}:
        return Redirect(localized(f"/orders/{token}"), status_code=303)
    try:
        url = await shop.payments.hand_over_to_twint(
            payment.intent_id,
            return_url=_return_url(shop, order),
            name=order.name,
            email=order.email,
        )
    except PaymentMovedOn:  # paid or called off meanwhile: the order page says which
        return Redirect(localized(f"/orders/{token}"), status_code=303)
    except PaymentUnavailable:  # the pay page says so and offers to try again
        return Redirect(localized(f"/orders/{token}/pay"), status_code=303)
    await record_hand_over(shop.database, order.id)
    return Redirect(url, status_code=303)


@post("/orders/{token:str}/payment", name="order_payment_retry", status_code=303)
async def retry_payment(shop: NamedDependency[Shop], token: FromPath[str]) -> Redirect:
    """Stripe was unavailable: try to create the payment again (the same key, so at most one)."""
    order = await _order(shop, token)
    await start_payment(shop.database, shop.payments, order.id)
    return Redirect(localized(f"/orders/{token}/pay"), status_code=303)


@get("/orders/{token:str}", name="order")
async def order_page(request: HTMXRequest, shop: NamedDependency[Shop], token: FromPath[str]) -> Template:
    order, state = await _order_and_page_state(request, shop, token, Source.RETURN)
    return render(
        shop.settings,
        request,
        "orders/page.html",
        order=order,
        cart=state.cart,
        headers=NO_STORE,
        **_summary(shop, state.snapshot),
    )


@get("/orders/{token:str}/status", name="order_status")
async def order_status(request: HTMXRequest, shop: NamedDependency[Shop], token: FromPath[str]) -> Template:
    """Polled by the order page; answered from the database, and from Stripe at most once per
    payment per interval while the payment is pending."""
    order, state = await _order_and_page_state(request, shop, token, Source.POLL)
    return render(
        shop.settings, request, "orders/page.html", block="status", order=order, cart=state.cart, headers=NO_STORE
    )
