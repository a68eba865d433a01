"""The cart's cookie: an unguessable token the browser keeps for 60 days. `SameSite=Lax` lets it
travel with the top-level return from TWINT, so the cart survives the app switch."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie

CART_COOKIE = "cart"
CART_COOKIE_MAX_AGE = 60 * 24 * 3600


def cart_token(request: Request[Any, Any, Any]) -> str | None:
    return request.cookies.get(CART_COOKIE) or None


def cart_cookie(token: str, *, secure: bool) -> Cookie:
    return Cookie(
        key=CART_COOKIE,
        value=token,
        max_age=CART_COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax",
    )
