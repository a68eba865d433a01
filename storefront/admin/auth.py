"""Who is signed in to the back office: the session cookie (only for `/admin`, `HttpOnly`,
`SameSite=Strict`, `Secure` in production) checked by a guard on every back-office route, and
the owner-only guard for refunds and accounts."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from storefront.admin.accounts import StaffMember, session_member
from storefront.settings import Settings

SESSION_COOKIE = "storefront_staff"
ADMIN_PATH = "/admin"
SIGN_IN_PATH = "/admin/sign-in"


def session_cookie(settings: Settings, token: str) -> Cookie:
    """Sent only to the back office; `Strict` because no other site ever links into a signed-in back office."""
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path=ADMIN_PATH,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
    )


def expired_cookie(settings: Settings) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        path=ADMIN_PATH,
        max_age=0,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
    )


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Every back-office route but the sign-in page refuses a request without an open session."""
    if handler.opt.get("anonymous"):
        return
    shop = connection.app.state.shop
    token = connection.cookies.get(SESSION_COOKIE)
    member = None
    if token:
        member = await session_member(shop.database, token, dt.timedelta(hours=shop.settings.staff_session_hours))
    if member is None:
        raise NotAuthorizedException("sign in first")
    connection.state.staff = member


async def owner_only(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    member: StaffMember | None = getattr(connection.state, "staff", None)
    if member is None or not member.owner:
        raise PermissionDeniedException("only an owner account may do this")


def provide_staff(request: Request[Any, Any, Any]) -> StaffMember:
    member: StaffMember = request.state.staff
    return member


def to_sign_in(request: Request[Any, Any, Any], _exc: NotAuthorizedException) -> Response[Any]:
    """No session: the sign-in page, then back to where the person was going (a page, not a form's target)."""
    target = request.url.path if request.method == "GET" else request.headers.get("hx-current-url", ADMIN_PATH)
    location = f"{SIGN_IN_PATH}?next={quote(_local(target), safe='/')}"
    if request.headers.get("hx-request"):
        return Response(b"", status_code=401, headers={"HX-Redirect": location, "Cache-Control": "no-store"})
    return Redirect(location, status_code=303, cookies=[expired_cookie(request.app.state.shop.settings)])


def _local(target: str) -> str:
    """Only back into the back office."""
    if "://" in target:
        target = "/" + target.split("://", 1)[1].split("/", 1)[-1]
    return target if target.startswith(ADMIN_PATH) and not target.startswith("//") else ADMIN_PATH


def safe_next(target: str | None) -> str:
    path = _local(target or ADMIN_PATH)
    return ADMIN_PATH if path.startswith(SIGN_IN_PATH) or "\\" in path else path
