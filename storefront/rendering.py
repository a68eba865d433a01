"""Rendering a page or, for htmx, only the part of it that changed."""

from __future__ import annotations

from typing import Any

from jinja2_fragments.litestar import HTMXBlockTemplate
from litestar import Request
from litestar.datastructures import Cookie
from litestar.plugins.htmx import HTMXDetails
from litestar.response import Template

from storefront.i18n import LANGUAGE_COOKIE, LANGUAGE_NAMES, current_language, in_language, language_cookie, language_in
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


def _canonical(settings: Settings, path: str, page: Any) -> str:
    """The page's one address for search engines: the catalogue's ends in a slash, and of the
    query only the catalogue's page number counts."""
    if path.count("/") == 1:
        path += "/"
    return f"{settings.base_url}{path}" + (f"?page={page}" if isinstance(page, int) and page > 1 else "")


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
    language = current_language()
    # A page whose address differs by more than the language (a product's) names it in each.
    alternates: dict[str, str] | None = context.pop("alternates", None)
    path = alternates[language] if alternates else request.scope["path"]
    addressed = language_in(path) == language  # a customer page, its language in its address
    query = request.scope["query_string"].decode("latin-1")
    here = path + (f"?{query}" if query else "")
    context.update(
        shop_name=settings.shop_name,
        language=language,
        # The same page in each language, for the header's switch and the hreflang alternates.
        languages=[
            (code, LANGUAGE_NAMES[code], alternates[code] if alternates else in_language(here, code))
            for code in LANGUAGES
        ],
        canonical=_canonical(settings, path, context.get("page", 1)) if addressed and not fragment else None,
        base_url=settings.base_url,
        today=swiss_today(),
        oob=fragment,
    )
    if addressed and request.cookies.get(LANGUAGE_COOKIE) != language:
        cookies = [*(cookies or []), language_cookie(language, secure=settings.secure_cookies)]
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
