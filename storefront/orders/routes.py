"""An order's pages: the review page that hands over to TWINT, the return from TWINT, and the
order page whose status polls until the payment is final."""

from __future__ import annotations

from litestar import get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from storefront.orders.service import OrderView, find_order, secret_hash
from storefront.page_state import read_page_state
from storefront.payments.checkout import start_payment, sync_with_stripe
from storefront.payments.gateway import PaymentUnavailable
from storefront.payments.service import apply_payment_state
from storefront.web import Shop, render

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def _order(shop: Shop, token: str) -> OrderView:
    order = await find_order(shop.database, token=token)
    if order is None:
        raise NotFoundException()  # the same answer for any unknown or guessed token
    return order


@get("/orders/{token:str}/pay", name="order_pay")
async def pay_page(request: HTMXRequest, shop: NamedDependency[Shop], token: FromPath[str]) -> Template | Redirect:
    order = await _order(shop, token)
    if order.final:
        return Redirect(f"/orders/{token}", status_code=303)
    state = await read_page_state(shop, request)
    context = {"order": order, "cart": state.cart, "headers": NO_STORE}
    if not order.payment_intent_id:
        return render(shop, request, "orders/pay.html", status_code=503, unavailable=True, **context)
    try:
        intent = await shop.gateway.retrieve_intent(order.payment_intent_id)
    except PaymentUnavailable:
        return render(shop, request, "orders/pay.html", status_code=503, unavailable=True, **context)
    if intent.status in {"succeeded", "canceled"}:
        await apply_payment_state(shop.database, order.id, intent.to_dict())  # the intent just read
        return Redirect(f"/orders/{token}", status_code=303)
    return render(
        shop,
        request,
        "orders/pay.html",
        client_secret=intent.client_secret,
        publishable_key=shop.gateway.publishable_key,
        stripe_js_url=shop.gateway.stripe_js_url,
        return_url=f"{shop.settings.base_url}/checkout/return",
        **context,
    )


@post("/orders/{token:str}/payment", name="order_payment_retry", status_code=303)
async def retry_payment(shop: NamedDependency[Shop], token: FromPath[str]) -> Redirect:
    """Stripe was unavailable: try to create the PaymentIntent again (the same key, so at most one)."""
    order = await _order(shop, token)
    await start_payment(shop, order.id)
    return Redirect(f"/orders/{token}/pay", status_code=303)


@get("/checkout/return", name="checkout_return")
async def checkout_return(
    shop: NamedDependency[Shop],
    payment_intent: FromQuery[str] = "",
    payment_intent_client_secret: FromQuery[str] = "",
) -> Redirect:
    """TWINT sends the customer here; check the intent and its secret against the order, then move
    to a clean address with no secret in it (reference/reliability-security.md R12, R13)."""
    order = await find_order(shop.database, intent_id=payment_intent) if payment_intent else None
    if (
        order is None
        or not order.client_secret_hash
        or secret_hash(payment_intent_client_secret) != order.client_secret_hash
    ):
        raise NotFoundException()
    return Redirect(f"/orders/{order.public_token}", status_code=303, headers=NO_STORE)


@get("/orders/{token:str}", name="order")
async def order_page(request: HTMXRequest, shop: NamedDependency[Shop], token: FromPath[str]) -> Template:
    order = await sync_with_stripe(shop, await _order(shop, token))
    state = await read_page_state(shop, request)
    return render(shop, request, "orders/page.html", order=order, cart=state.cart, headers=NO_STORE)


@get("/orders/{token:str}/status", name="order_status")
async def order_status(request: HTMXRequest, shop: NamedDependency[Shop], token: FromPath[str]) -> Template:
    """Polled by the order page; answered from the database, and from Stripe at most once per
    order per interval while the payment is pending."""
    order = await sync_with_stripe(shop, await _order(shop, token))
    state = await read_page_state(shop, request)
    return render(shop, request, "orders/page.html", block="status", order=order, cart=state.cart, headers=NO_STORE)
