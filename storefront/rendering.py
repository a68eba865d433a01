"""Rendering a page or, for htmx, only the part of it that changed."""

from __future__ import annotations

from typing import Any

from jinja2_fragments.litestar import HTMXBlockTemplate
from litestar import Request
from litestar.datastructures import Cookie
from litestar.plugins.htmx import HTMXDetails
from litestar.response import Template

from storefront.i18n import LANGUAGE_NAMES, current_language
from storefront.money import swiss_today
from storefront.settings import LANGUAGES, Settings

# For pages with a secret or personal data: kept in no cache, and their address sent to no other site.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """An htmx request for a part of a page; boosted navigation and history restores get the page.
    `HX-Request-Type` is htmx 4's (https://four.htmx.org/); htmx 2 does not send it."""
    details = HTMXDetails(request)
    if not details or details.boosted or details.history_restore_request:
        return False
    return request.headers.get("hx-request-type", "partial") == "partial"


def render(
    settings: Settings,
    request: Request[Any, Any, Any],
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
    context.setdefault("max_quantity", settings.max_line_quantity)
    context.update(
        shop_name=settings.shop_name,
        language=current_language(),
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        today=swiss_today(),
        oob=fragment,
    )
    headers = {"Vary": "HX-Request, Cookie, Accept-Language", **(headers or {})}
    if fragment:
        assert block is not None
        return HTMXBlockTemplate(
            template_name=template,
            block_name=block,
            context=context,
            status_code=status_code,
            cookies=cookies,
            headers=headers,
        )
    return Template(template_name=template, context=context, status_code=status_code, cookies=cookies, headers=headers)
