"""Errors as pages in the shop's layout (Litestar answers JSON by default), or for htmx as a
message in the page's notice region. Only server faults are logged as errors."""

from __future__ import annotations

import logging
from typing import Any

from advanced_alchemy.exceptions import NotFoundError
from litestar import Request, Response
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy import exc as sa_exc

from storefront.i18n import gettext as _
from storefront.i18n import use_language_of
from storefront.rendering import render, wants_fragment

logger = logging.getLogger("storefront")

# What the database driver raises when it cannot be reached (refused, reset, timed out, a file
# that cannot be opened): answered 503 with Retry-After rather than 500.
DATABASE_UNREACHABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)
RETRY_AFTER_S = "30"


def _texts(status: int, exc: Exception) -> tuple[str, str]:
    if status == 403 and isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        return _("Please try again"), _(
            "This form has expired or was not sent from this shop. Please reload the page and try again."
        )
    if status == 403:
        return _("Not allowed"), _("Your account may not do this. Please ask the shop's owner.")
    if status == 404:
        return _("Page not found"), _("We could not find this page. It may have moved, or the link is mistyped.")
    if status == 405:
        return _("Not allowed"), _("This address does not accept that kind of request.")
    if status == 413:
        return _("Too much data"), _("What was sent is too large. Please try again with less.")
    if status == 429:
        return _("Too many requests"), _("Please wait a moment and try again.")
    if status < 500:
        return _("Please check your input"), _("The request could not be understood. Please try again.")
    if status == 503:
        return _("Temporarily unavailable"), _("The shop is briefly unavailable. Please try again in a minute.")
    return _("Something went wrong"), _(
        "Something went wrong on our side. Please try again in a moment; if it keeps happening, contact us."
    )


def html_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    headers: dict[str, str] = {}
    if isinstance(exc, HTTPException):
        status = exc.status_code
    elif isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, DATABASE_UNREACHABLE):
        # The database is down or restarting: a moment's wait, not a fault of this page. The pool
        # connects again by itself once it is back.
        status = 503
        headers["Retry-After"] = RETRY_AFTER_S
        # The driver's own first line ("connection refused", "unable to open database file"): never
        # SQLAlchemy's text, which repeats the statement and its parameters.
        cause = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        logger.warning("%s %s: the database is unreachable: %s", request.method, request.url.path, cause)
    else:
        status = HTTP_500_INTERNAL_SERVER_ERROR
    if status >= 500 and status != 503:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    # The router's 404/405 never reach `before_request`, so choose the language here too.
    use_language_of(request, request.app.state.shop.settings.default_language)
    title, detail = _texts(status, exc)
    headers.update(getattr(exc, "headers", None) or {})
    if wants_fragment(request):
        # A message where the customer looks, instead of a whole page inside a form.
        headers.update({"HX-Retarget": "#notice", "HX-Reswap": "innerHTML"})
    # No cart on error pages: reading it could be what failed.
    return render(
        request.app.state.shop.settings,
        request,
        "errors/error.html",
        block="notice",
        status_code=status,
        headers=headers,
        cart=None,
        title=title,
        detail=detail,
    )
