"""What every page handler shares: the shop's parts, the request's cart and the page context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from jinja2_fragments.litestar import HTMXBlockTemplate
from litestar import Request
from litestar.datastructures import Cookie, State
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from storefront.assets import AssetManifest
from storefront.catalog.service import Catalog
from storefront.db import Database
from storefront.i18n import LANGUAGE_NAMES, current_language
from storefront.payments.gateway import TWINT_MAX, Gateway
from storefront.sandbox.store import SandboxStore
from storefront.sandbox.webhooks import endpoint
from storefront.settings import LANGUAGES, Settings

SWISS_TIME = ZoneInfo("Europe/Zurich")
CART_COOKIE = "cart"
CART_COOKIE_MAX_AGE = 60 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Shop:
    settings: Settings
    database: Database
    catalog: Catalog
    assets: AssetManifest
    gateway: Gateway
    sandbox: SandboxStore | None = None  # the offline Stripe, when no Stripe keys are set

    def webhook_secret(self) -> str:
        """Stripe's whsec_… for the webhook endpoint; in sandbox mode, the sandbox's own."""
        if self.settings.stripe_webhook_secret:
            return self.settings.stripe_webhook_secret
        configured = endpoint(self.sandbox) if self.sandbox is not None else None
        return configured["secret"] if configured else ""


def swiss_today() -> dt.date:
    """The date in Switzerland, which decides the VAT rates, whatever the server's time zone."""
    return dt.datetime.now(SWISS_TIME).date()


def provide_shop(state: State) -> Shop:
    return state.shop


def cart_token(request: Request) -> str | None:
    return request.cookies.get(CART_COOKIE) or None


def cart_cookie(settings: Settings, token: str) -> Cookie:
    return Cookie(
        key=CART_COOKIE,
        value=token,
        max_age=CART_COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )


def wants_fragment(request: HTMXRequest) -> bool:
    """An htmx request for a part of a page; boosted navigation and history restores get the page.
    `HX-Request-Type` is htmx 4's; htmx 2 does not send it (reference/litestar-htmx.md §2.2)."""
    details = request.htmx
    if not details or details.boosted or details.history_restore_request:
        return False
    return request.headers.get("hx-request-type", "partial") == "partial"


def render(
    shop: Shop,
    request: HTMXRequest,
    template: str,
    *,
    block: str | None = None,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """A full page, or with `block` and an htmx request, just that block (plus its out-of-band
    updates, such as the header's cart count)."""
    fragment = block is not None and wants_fragment(request)
    context.setdefault("max_quantity", shop.settings.max_line_quantity)
    context.setdefault("twint_max", TWINT_MAX)
    context.update(
        shop_name=shop.settings.shop_name,
        language=current_language(),
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        today=swiss_today(),
        oob=fragment,
    )
    headers = {"Vary": "HX-Request, Cookie, Accept-Language", **(headers or {})}
    if fragment:
        return HTMXBlockTemplate(
            template_name=template,
            block_name=block,
            context=context,
            status_code=status_code,
            cookies=cookies,
            headers=headers,
        )
    return Template(template_name=template, context=context, status_code=status_code, cookies=cookies, headers=headers)
