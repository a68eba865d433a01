"""What the customer's browser meets in the sandbox: the fake Stripe.js and the TWINT page with
the buttons of Stripe's test page ("Authorize test payment", "Fail test payment"), plus "Cancel"
and "Close without returning" (https://docs.stripe.com/payments/twint, and Stripe's testing
guide https://docs.stripe.com/testing).

As TWINT's own page, it shows the QR code and the 5-digit code on a desktop-sized screen; on a
phone-sized one it offers "Open the TWINT app" instead (no one can scan their own screen). In the
sandbox that step is a link to the same page with `step=app`, which the server renders as the app:
its "Authorize test payment" and "Fail test payment". Which of the two a screen shows is the
stylesheet's choice, by the width of the viewport, so the page needs no JavaScript."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno
from litestar import Request, Response, Router, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from storefront.sandbox.account import SandboxAccount, redirect_token
from storefront.sandbox.base import Call
from storefront.sandbox.errors import StripeError
from storefront.sandbox.faults import read_switches
from storefront.sandbox.html import ASSETS_DIR, page
from storefront.sandbox.texts import TEXTS, page_language

ACTIONS = ("authorize", "fail", "cancel", "close")
APP_STEP = "app"  # `?step=app`: the customer opened the TWINT app on their phone


def with_query(url: str, **extra: str) -> str:
    """`url` with `extra` appended to its query, keeping the query it had (as Stripe does)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *extra.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def twint_code(intent_id: str) -> str:
    """The 5-digit code TWINT's desktop flow shows beside the QR code."""
    return f"{int(hashlib.sha256(intent_id.encode()).hexdigest()[:8], 16) % 100_000:05d}"


class SandboxPages:
    def __init__(self, account: SandboxAccount, mount_path: str = "", merchant: str = "Storefront") -> None:
        self.account = account
        self.mount_path = mount_path.rstrip("/")
        self.merchant = merchant

    def router(self) -> Router:
        pages = self

        @get("/js/stripe.js")
        async def stripe_js() -> Response[bytes]:
            return Response(
                (ASSETS_DIR / "stripe.js").read_bytes(),
                media_type="application/javascript; charset=utf-8",
                headers={"Cache-Control": "public, max-age=300"},
            )

        @get("/css/twint.css")
        async def twint_css() -> Response[bytes]:
            return Response(
                (ASSETS_DIR / "twint.css").read_bytes(),
                media_type="text/css; charset=utf-8",
                headers={"Cache-Control": "public, max-age=300"},
            )

        @get("/twint/{intent_id:str}")
        async def twint_page(
            request: Request[Any, Any, Any],
            intent_id: FromPath[str],
            token: FromQuery[str] = "",
            step: FromQuery[str] = "",
        ) -> Response[str]:
            intent = pages._intent_for(intent_id, token)
            return pages._page(request, intent, token, in_app=step == APP_STEP)

        @post("/twint/{intent_id:str}", status_code=303)
        async def twint_action(request: Request[Any, Any, Any], intent_id: FromPath[str]) -> Response[str] | Redirect:
            form = await request.form()
            token, action = str(form.get("token", "")), str(form.get("action", ""))
            intent = pages._intent_for(intent_id, token)
            if action not in ACTIONS:
                in_app = form.get("step") == APP_STEP
                return pages._page(request, intent, token, status_code=400, notice="unknown_action", in_app=in_app)
            if action == "close":
                return pages._page(request, intent, token, closed=True)
            call = Call(request_id=None)  # what happens on TWINT's page comes from no API request
            waiting = intent  # its next_action holds the return_url, which the change clears
            try:
                if action == "authorize":
                    intent = pages.account.authorize(intent_id, call)
                elif action == "fail":
                    intent = pages.account.fail(intent_id, call)
                else:
                    intent = pages.account.cancel_payment_intent(
                        intent_id, {"cancellation_reason": "requested_by_customer"}, call
                    )
            except StripeError:
                # Pressed twice, or the shop cancelled meanwhile: the page shows how things stand.
                return pages._page(
                    request,
                    pages.account.retrieve("payment_intent", intent_id),
                    token,
                    status_code=409,
                    notice="moved_on",
                )
            if action == "authorize" and read_switches(pages.account.store).customer_never_returns:
                return pages._page(request, intent, token, closed=True)  # paid, but no return to the shop
            return Redirect(pages._return_url(waiting, action), status_code=303)

        return Router(
            path="/",
            route_handlers=[stripe_js, twint_css, twint_page, twint_action],
            include_in_schema=False,
            opt={"exclude_from_csrf": True},
        )

    def _intent_for(self, intent_id: str, token: str) -> dict[str, Any]:
        intent = self.account.store.get(intent_id, "payment_intent")
        if intent is None or not hmac.compare_digest(token, redirect_token(intent)):
            raise NotFoundException()  # reveals nothing about other payments
        return intent

    @staticmethod
    def _return_url(waiting: dict[str, Any], action: str) -> str:
        """Back to the shop with what Stripe appends (and `redirect_status`, seen in real traffic)."""
        status = {"authorize": "succeeded", "fail": "failed", "cancel": "canceled"}[action]
        return with_query(
            waiting["next_action"]["redirect_to_url"]["return_url"],
            payment_intent=waiting["id"],
            payment_intent_client_secret=waiting["client_secret"],
            redirect_status=status,
        )

    def _page(
        self,
        request: Request[Any, Any, Any],
        intent: dict[str, Any],
        token: str,
        *,
        status_code: int = 200,
        notice: str | None = None,
        closed: bool = False,
        in_app: bool = False,
    ) -> Response[str]:
        """The page as it stands, in the browser's language; `in_app` once the customer took the
        "Open the TWINT app" step; `notice` names one of the page's texts."""
        lang = page_language(request.headers.get("accept-language"))
        action_url = f"{self.mount_path}/twint/{intent['id']}"
        page_url = f"{str(request.base_url).rstrip('/')}{action_url}?{urlencode({'token': token})}"
        return page(
            "twint.html",
            status_code=status_code,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
            context={
                "intent": intent,
                "merchant": self.merchant,
                "amount": f"CHF {intent['amount'] // 100}.{intent['amount'] % 100:02d}",
                "code": twint_code(intent["id"]),
                "qr": segno.make(page_url, error="m").svg_inline(scale=4, dark="#000", light="#fff"),
                "token": token,
                "action_url": action_url,
                "app_url": f"{action_url}?{urlencode({'token': token, 'step': APP_STEP})}#twint-app",
                "in_app": in_app,
                "waiting": intent["status"] == "requires_action",
                "notice": TEXTS[lang][notice] if notice else None,
                "t": TEXTS[lang],
                "lang": lang,
                "closed": closed,
                "mount_path": self.mount_path,
            },
        )
