"""The sandbox's control page and its small JSON API: the webhook endpoint, the fault switches and
the list of webhook deliveries with their outcome.

The JSON API, under `/control/api/`: `GET state`, `GET requests?payment_intent=pi_…` (the request
log), `POST switches`, `GET|POST intents/{pi_…}/switches`, `POST webhook-endpoint`, `POST
release-held`, and `POST intents/{pi_…}/refund` with `{"amount": Rappen or null for the rest,
"reason": "requested_by_customer"|"duplicate"|"fraudulent"|null}`: a refund made "in Stripe's
dashboard", which the shop did not ask for and learns of only from webhooks (the refund, 200, or
Stripe's error with its status)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.exceptions import ClientException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect

from storefront.sandbox.account import SandboxAccount
from storefront.sandbox.base import check_params
from storefront.sandbox.errors import StripeError, invalid
from storefront.sandbox.faults import (
    API_FAULTS,
    DROP_MODES,
    intent_switches,
    read_switches,
    set_intent_switches,
    set_switches,
)
from storefront.sandbox.html import page
from storefront.sandbox.request_log import logged_requests
from storefront.sandbox.store import SandboxStore
from storefront.sandbox.webhooks import configure_endpoint, deliveries, endpoint, release_held

DASHBOARD_REFUND_PARAMS = frozenset({"amount", "reason"})


def state(store: SandboxStore) -> dict[str, Any]:
    return {
        "switches": asdict(read_switches(store)),
        "webhook_endpoint": endpoint(store),
        "intent_switches": intent_switches(store),
        "deliveries": deliveries(store),
    }


def _same_site_only(request: Request[Any, Any, Any]) -> None:
    """The control form has no CSRF token (the sandbox keeps no sessions); a browser says where a
    form comes from, so one sent from another site is refused."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site not in (None, "same-origin", "none") or (origin and origin != str(request.base_url).rstrip("/")):
        raise PermissionDeniedException("the control form only takes posts from this page")


def _json_only(request: Request[Any, Any, Any]) -> None:
    # A JSON body can't be sent across sites without a CORS preflight, so these need no CSRF token.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ClientException("send application/json", status_code=415)


class SandboxControl:
    def __init__(self, store: SandboxStore, mount_path: str = "") -> None:
        self.store = store
        self.mount_path = mount_path.rstrip("/")

    def router(self) -> Router:
        control = self

        @get("/control")
        async def control_page() -> Response[str]:
            return page(
                "control.html",
                headers={"Cache-Control": "no-store"},
                context={
                    **state(control.store),
                    "requests": logged_requests(control.store, limit=50),
                    "mount_path": control.mount_path,
                    "api_faults": API_FAULTS,
                    "drop_modes": DROP_MODES,
                },
            )

        @post("/control", status_code=303, opt={"exclude_from_csrf": True})
        async def control_form(request: Request[Any, Any, Any]) -> Redirect:
            _same_site_only(request)
            form = await request.form()
            changes = {
                name: form.get(name)
                for name in ("webhook_delay_s", "webhook_drop", "api_fault", "api_fault_count", "hang_s")
            }
            for flag in ("webhook_duplicate", "webhook_out_of_order", "customer_never_returns"):
                changes[flag] = form.get(flag) == "on"
            try:
                set_switches(control.store, **changes)
                if form.get("webhook_url"):
                    configure_endpoint(
                        control.store, str(form["webhook_url"]), str(form.get("webhook_secret") or "") or None
                    )
            except ValueError as error:
                raise ClientException(str(error)) from None
            if form.get("release") == "held":
                release_held(control.store)
            return Redirect(f"{control.mount_path}/control", status_code=303)

        @get("/control/api/requests")
        async def api_requests(
            payment_intent: FromQuery[str | None] = None, limit: FromQuery[int] = 200
        ) -> dict[str, Any]:
            """The API request log, newest first; `payment_intent` keeps those about one intent."""
            return {"requests": logged_requests(control.store, payment_intent, max(1, min(limit, 1000)))}

        @get("/control/api/intents/{intent_id:str}/switches")
        async def api_intent_switches(intent_id: FromPath[str]) -> dict[str, Any]:
            return {"intent": intent_id, "own": intent_switches(control.store).get(intent_id, {})}

        @post("/control/api/intents/{intent_id:str}/switches", status_code=200, opt={"exclude_from_csrf": True})
        async def api_set_intent_switches(
            request: Request[Any, Any, Any], intent_id: FromPath[str], data: JSONBody[dict[str, Any]]
        ) -> dict[str, Any]:
            """Switches for this PaymentIntent only; the answer is what is now in force for it."""
            _json_only(request)
            try:
                return asdict(set_intent_switches(control.store, intent_id, **data))
            except (ValueError, TypeError) as error:
                raise ClientException(str(error)) from None

        @post("/control/api/intents/{intent_id:str}/refund", status_code=200, opt={"exclude_from_csrf": True})
        async def api_refund(
            request: Request[Any, Any, Any], intent_id: FromPath[str], data: JSONBody[dict[str, Any]]
        ) -> Response[dict[str, Any]]:
            """A refund made in Stripe's dashboard: no API request of the shop, no metadata."""
            _json_only(request)
            try:
                check_params(data, DASHBOARD_REFUND_PARAMS)
                amount = data.get("amount")
                if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
                    raise invalid(f"Invalid integer: {amount}", code="parameter_invalid_integer", param="amount")
                refund = SandboxAccount(control.store).refund_from_dashboard(intent_id, amount, data.get("reason"))
            except StripeError as error:
                return Response(error.body(), status_code=error.status)
            return Response(refund)

        @get("/control/api/state")
        async def api_state() -> dict[str, Any]:
            return state(control.store)

        @post("/control/api/switches", status_code=200, opt={"exclude_from_csrf": True})
        async def api_switches(request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
            _json_only(request)
            try:
                return asdict(set_switches(control.store, **data))
            except (ValueError, TypeError) as error:
                raise ClientException(str(error)) from None

        @post("/control/api/webhook-endpoint", status_code=200, opt={"exclude_from_csrf": True})
        async def api_endpoint(request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]) -> dict[str, str]:
            _json_only(request)
            try:
                return configure_endpoint(control.store, str(data.get("url", "")), data.get("secret"))
            except ValueError as error:
                raise ClientException(str(error)) from None

        @post("/control/api/release-held", status_code=200, opt={"exclude_from_csrf": True})
        async def api_release(request: Request[Any, Any, Any]) -> Response[dict[str, int]]:
            _json_only(request)
            return Response({"released": release_held(control.store)})

        return Router(
            path="/",
            route_handlers=[
                control_page,
                control_form,
                api_requests,
                api_intent_switches,
                api_set_intent_switches,
                api_refund,
                api_state,
                api_switches,
                api_endpoint,
                api_release,
            ],
            include_in_schema=False,
        )
