"""The sandbox's REST API under `/v1`, as Stripe answers it: form-encoded requests, JSON objects,
Stripe's error bodies, `Request-Id`, `Idempotency-Key` replay, secret and publishable keys."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from litestar import Request, Response, Router, get, post, route
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware
from litestar.params import FromPath
from litestar.response import Stream

from storefront.sandbox import objects
from storefront.sandbox.account import SandboxAccount
from storefront.sandbox.base import INTENT_EXPANSIONS, Call
from storefront.sandbox.errors import StripeError
from storefront.sandbox.faults import effective_switches, take_api_fault
from storefront.sandbox.forms import FormError, parse_stripe_form
from storefront.sandbox.request_log import ApiRecorder

logger = logging.getLogger("storefront.sandbox")

SECRET, PUBLISHABLE = "secret", "publishable"
_INTENT_IN_PATH = re.compile(r"^/v1/payment_intents/(pi_[A-Za-z0-9]+)")
ALL_METHODS: frozenset[HttpMethod] = frozenset(
    {HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE}
)
# What an endpoint runs: (form, call, role) -> the Stripe object to answer with.
Operation = Callable[[dict[str, Any], Call, str], dict[str, Any]]
# Every answer is JSON, except a "reset" fault's, which breaks off mid-stream.
ApiResponse = Response[bytes] | Stream

NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, using "
    "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
)


def _mask(key: str) -> str:
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "*" * len(key)


def authenticate(request: Request[Any, Any, Any], form: dict[str, Any]) -> str:
    """Any `sk_test_…` or `pk_test_…` is this sandbox's account; a live key or anything else is refused."""
    header = request.headers.get("authorization", "")
    key = None
    if header.startswith("Bearer "):
        key = header[7:].strip()
    elif header.startswith("Basic "):
        try:
            key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            key = header
    key = key or form.get("key") or request.query_params.get("key")
    if not key:
        raise StripeError(401, NO_KEY)
    if key.startswith("sk_test_") and len(key) > 8:
        return SECRET
    if key.startswith("pk_test_") and len(key) > 8:
        return PUBLISHABLE
    raise StripeError(401, f"Invalid API Key provided: {_mask(key)}")


async def _reset_connection() -> AsyncIterator[bytes]:
    """A body that breaks off: the client sees the connection drop mid-response."""
    yield b'{"'
    raise ConnectionResetError("sandbox fault: connection reset")


def request_fingerprint(method: str, path: str, form: dict[str, Any]) -> str:
    """What must match for an Idempotency-Key to replay: the endpoint and its parameters."""
    parameters = {name: value for name, value in form.items() if name != "key"}
    return hashlib.sha256(json.dumps([method, path, parameters], sort_keys=True).encode()).hexdigest()


def _client_secret_matches(intent: dict[str, Any], given: Any) -> None:
    if not isinstance(given, str) or not hmac.compare_digest(given, intent["client_secret"]):
        raise StripeError(
            400,
            "The client_secret provided does not match the client_secret associated with the PaymentIntent.",
            code="payment_intent_invalid_parameter",
            param="client_secret",
        )


class SandboxApi:
    def __init__(self, account: SandboxAccount, mount_path: str = "", public_url: str | None = None) -> None:
        self.account = account
        self.mount_path = mount_path.rstrip("/")
        # Where customers' browsers reach the sandbox's pages, when the shop calls its API at
        # another address (behind a TLS proxy); by default the address the call came to.
        self.public_url = public_url.rstrip("/") if public_url else None

    def router(self) -> Router:
        api = self

        @post("/v1/payment_intents", status_code=200)
        async def create_intent(request: Request[Any, Any, Any]) -> ApiResponse:
            return await api.answer(
                request, SECRET, lambda form, call, _role: api.account.create_payment_intent(form, call)
            )

        @get("/v1/payment_intents/{intent_id:str}")
        async def retrieve_intent(request: Request[Any, Any, Any], intent_id: FromPath[str]) -> ApiResponse:
            def run(form: dict[str, Any], call: Call, role: str) -> dict[str, Any]:
                intent = api.account.retrieve("payment_intent", intent_id, param="intent")
                if role == PUBLISHABLE:
                    _client_secret_matches(intent, form.get("client_secret"))
                    return objects.publishable_view(intent)
                return api.account.retrieve_expanded("payment_intent", intent_id, form, INTENT_EXPANSIONS, "intent")

            return await api.answer(request, (SECRET, PUBLISHABLE), run)

        @get("/v1/payment_intents")
        async def list_intents(request: Request[Any, Any, Any]) -> ApiResponse:
            return await api.answer(request, SECRET, lambda form, _call, _role: api.account.list_payment_intents(form))

        @post("/v1/payment_intents/{intent_id:str}", status_code=200)
        async def update_intent(request: Request[Any, Any, Any], intent_id: FromPath[str]) -> ApiResponse:
            return await api.answer(
                request, SECRET, lambda form, call, _role: api.account.update_payment_intent(intent_id, form, call)
            )

        @get("/v1/charges/{charge_id:str}")
        async def retrieve_charge(request: Request[Any, Any, Any], charge_id: FromPath[str]) -> ApiResponse:
            return await api.answer(
                request,
                SECRET,
                lambda form, _call, _role: api.account.retrieve_expanded("charge", charge_id, form, frozenset()),
            )

        @get("/v1/refunds")
        async def list_refunds(request: Request[Any, Any, Any]) -> ApiResponse:
            return await api.answer(request, SECRET, lambda form, _call, _role: api.account.list_refunds(form))

        @get("/v1/account")
        async def retrieve_account(request: Request[Any, Any, Any]) -> ApiResponse:
            return await api.answer(request, SECRET, lambda form, _call, _role: api.account.account(form))

        @post("/v1/webhook_endpoints", status_code=200)
        async def create_webhook_endpoint(request: Request[Any, Any, Any]) -> ApiResponse:
            return await api.answer(
                request, SECRET, lambda form, _call, _role: api.account.create_webhook_endpoint(form)
            )

        @get("/v1/webhook_endpoints")
        async def list_webhook_endpoints(request: Request[Any, Any, Any]) -> ApiResponse:
            return await api.answer(
                request, SECRET, lambda form, _call, _role: api.account.list_webhook_endpoints(form)
            )

        @get("/v1/webhook_endpoints/{endpoint_id:str}")
        async def retrieve_webhook_endpoint(request: Request[Any, Any, Any], endpoint_id: FromPath[str]) -> ApiResponse:
            return await api.answer(
                request, SECRET, lambda _form, _call, _role: api.account.retrieve_webhook_endpoint(endpoint_id)
            )

        @get("/v1/events")
        async def list_events(request: Request[Any, Any, Any]) -> ApiResponse:
            return await api.answer(request, SECRET, lambda form, _call, _role: api.account.list_events(form))

        @post("/v1/payment_intents/{intent_id:str}/confirm", status_code=200)
        async def confirm_intent(request: Request[Any, Any, Any], intent_id: FromPath[str]) -> ApiResponse:
            def run(form: dict[str, Any], call: Call, role: str) -> dict[str, Any]:
                if role == PUBLISHABLE:
                    _client_secret_matches(
                        api.account.retrieve("payment_intent", intent_id, "intent"), form.get("client_secret")
                    )
                    return objects.publishable_view(api.account.confirm_payment_intent(intent_id, form, call))
                return api.account.confirm_payment_intent(intent_id, form, call)

            return await api.answer(request, (SECRET, PUBLISHABLE), run)

        @post("/v1/payment_intents/{intent_id:str}/cancel", status_code=200)
        async def cancel_intent(request: Request[Any, Any, Any], intent_id: FromPath[str]) -> ApiResponse:
            return await api.answer(
                request,
                SECRET,
                lambda form, call, _role: api.account.cancel_payment_intent(intent_id, form, call),
            )

        @post("/v1/refunds", status_code=200)
        async def create_refund(request: Request[Any, Any, Any]) -> ApiResponse:
            return await api.answer(request, SECRET, lambda form, call, _role: api.account.create_refund(form, call))

        @get("/v1/refunds/{refund_id:str}")
        async def retrieve_refund(request: Request[Any, Any, Any], refund_id: FromPath[str]) -> ApiResponse:
            return await api.answer(
                request, SECRET, lambda _form, _call, _role: api.account.retrieve("refund", refund_id)
            )

        @get("/v1/events/{event_id:str}")
        async def retrieve_event(request: Request[Any, Any, Any], event_id: FromPath[str]) -> ApiResponse:
            return await api.answer(
                request, SECRET, lambda _form, _call, _role: api.account.retrieve("event", event_id)
            )

        handlers = [
            create_intent,
            list_intents,
            retrieve_intent,
            update_intent,
            retrieve_charge,
            list_refunds,
            list_events,
            retrieve_account,
            create_webhook_endpoint,
            list_webhook_endpoints,
            retrieve_webhook_endpoint,
            confirm_intent,
            cancel_intent,
            create_refund,
            retrieve_refund,
            retrieve_event,
        ]
        # Every other method on these paths, and every other path under /v1, gets Stripe's JSON
        # "unrecognized request URL" instead of a page: the routing's own 404/405 would be HTML.
        answered: dict[str, set[HttpMethod]] = {}
        for handler in handlers:
            for path in handler.paths:
                answered.setdefault(path, set()).update(HttpMethod(method) for method in handler.http_methods)

        async def unrecognized(request: Request[Any, Any, Any]) -> Response[bytes]:
            return api.error_response(
                StripeError(
                    404,
                    f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
                    "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                ),
                objects.new_id("req_", 14),
            )

        def refused_by_framework(_request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
            """What the web framework refused (a body too large, say), in Stripe's error shape."""
            return api.error_response(StripeError(error.status_code, str(error.detail)), objects.new_id("req_", 14))

        def went_wrong(_request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
            """Whatever else happens, the client gets Stripe's JSON, as Stripe answers its own faults."""
            logger.error("sandbox API: %s", type(error).__name__, exc_info=error)
            return api.error_response(
                StripeError(500, "An unknown error occurred", type="api_error"), objects.new_id("req_", 14)
            )

        fill_ins = [
            route(path, http_method=sorted(ALL_METHODS - methods), status_code=404, name=f"unrecognized {path}")(
                unrecognized
            )
            for path, methods in answered.items()
        ]
        fill_ins.append(
            route("/v1/{rest:path}", http_method=sorted(ALL_METHODS), status_code=404, name="unrecognized")(
                unrecognized
            )
        )
        store = api.account.store
        return Router(
            path="/",
            route_handlers=[*handlers, *fill_ins],
            include_in_schema=False,
            opt={"exclude_from_csrf": True},
            # A function, not the store itself: routers are deep-copied when registered.
            middleware=[DefineMiddleware(ApiRecorder, store_of=lambda: store)],
            exception_handlers={HTTPException: refused_by_framework, Exception: went_wrong},
        )

    async def answer(
        self, request: Request[Any, Any, Any], roles: str | tuple[str, ...], run: Operation
    ) -> ApiResponse:
        request_id = objects.new_id("req_", 14)
        roles = (roles,) if isinstance(roles, str) else roles
        about = _INTENT_IN_PATH.match(request.url.path.removeprefix(self.mount_path))
        intent_id = about.group(1) if about else None
        fault = take_api_fault(self.account.store, intent_id)
        if fault is not None:
            return await self.faulty_response(fault, request_id, intent_id)
        try:
            raw = await request.body() if request.method == "POST" else (request.url.query or "")
            form = parse_stripe_form(raw)
        except FormError as error:
            return self.error_response(StripeError(400, str(error), param=error.param), request_id)
        try:
            role = authenticate(request, form)
            if role not in roles:
                raise StripeError(
                    401,
                    "This API call cannot be made with a publishable API key. Please use a "
                    "secret API key. You can find a list of your API keys at "
                    "https://dashboard.stripe.com/account/apikeys.",
                )
        except StripeError as error:
            return self.error_response(error, request_id)
        call = Call(
            request_id=request_id,
            idempotency_key=request.headers.get("idempotency-key"),
            stripe_version=request.headers.get("stripe-version", objects.API_VERSION),
            public_base=(self.public_url or str(request.base_url).rstrip("/")) + self.mount_path,
        )
        arguments = (form, call, role)
        if request.method != "POST" or not call.idempotency_key:
            return self._run(run, arguments, request_id)
        return self._run_idempotently(request, form, run, arguments, call)

    def _run(self, run: Operation, arguments: tuple[dict[str, Any], Call, str], request_id: str) -> Response[bytes]:
        try:
            return self.json_response(200, run(*arguments), request_id)
        except StripeError as error:
            return self.error_response(error, request_id)

    def _run_idempotently(
        self,
        request: Request[Any, Any, Any],
        form: dict[str, Any],
        run: Operation,
        arguments: tuple[dict[str, Any], Call, str],
        call: Call,
    ) -> Response[bytes]:
        key, request_id = call.idempotency_key, call.request_id
        assert key is not None
        assert request_id is not None  # every API call has one
        if len(key) > 255:
            return self.error_response(
                StripeError(400, "Idempotency-Key must be at most 255 characters long."), request_id
            )
        fingerprint = request_fingerprint(request.method, request.url.path, form)
        state, status, body = self.account.store.begin_idempotent(key, fingerprint)
        if state == "mismatch":
            return self.error_response(
                StripeError(
                    400,
                    f"Keys for idempotent requests can only be used with the same parameters they were first used "
                    f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                ),
                request_id,
            )
        if state == "in_flight":
            return self.error_response(
                StripeError(
                    409,
                    "There is currently another in-progress request using this Stripe Idempotency-Key (that "
                    "probably means you submitted twice, and the other request is still going through): "
                    f"{key}. Please try again later.",
                    code="idempotency_key_in_use",
                ),
                request_id,
            )
        if state == "replay":
            assert status is not None
            assert body is not None
            return Response(
                body.encode(),
                status_code=status,
                media_type="application/json",
                headers={"Request-Id": request_id, "Idempotent-Replayed": "true", "Idempotency-Key": key},
            )
        try:
            result = run(*arguments)
        except StripeError as error:
            # Stripe saves the outcome once the endpoint ran; a request refused by validation may be sent again.
            self.account.store.finish_idempotent(
                key,
                None if error.before_execution else error.status,
                None if error.before_execution else json.dumps(error.body()),
            )
            return self.error_response(error, request_id)
        except BaseException:
            self.account.store.finish_idempotent(key, None, None)
            raise
        body_text = json.dumps(result)
        self.account.store.finish_idempotent(key, 200, body_text)
        return Response(
            body_text.encode(),
            status_code=200,
            media_type="application/json",
            headers={"Request-Id": request_id, "Idempotency-Key": key},
        )

    async def faulty_response(self, fault: str, request_id: str, intent_id: str | None = None) -> ApiResponse:
        """What QA asked the next API calls to meet (storefront/sandbox/faults.py)."""
        if fault == "hang":
            with self.account.store.transaction() as connection:  # the intent's own hang_s, if it has one
                hang_s = effective_switches(connection, intent_id).hang_s
            await asyncio.sleep(hang_s)
        if fault == "reset":
            return Stream(_reset_connection(), media_type="application/json", headers={"Request-Id": request_id})
        if fault in ("rate_limit", "rate_limit_retry"):
            response = self.error_response(
                StripeError(
                    429,
                    "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
                    code="rate_limit",
                ),
                request_id,
            )
            if fault == "rate_limit_retry":
                response.headers["Stripe-Should-Retry"] = "true"
            return response
        return self.error_response(StripeError(500, "An unknown error occurred", type="api_error"), request_id)

    @staticmethod
    def json_response(status: int, body: dict[str, Any], request_id: str) -> Response[bytes]:
        return Response(
            json.dumps(body).encode(),
            status_code=status,
            media_type="application/json",
            headers={"Request-Id": request_id},
        )

    def error_response(self, error: StripeError, request_id: str) -> Response[bytes]:
        headers = {"Request-Id": request_id}
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Stripe"'
        return Response(
            json.dumps(error.body()).encode(), status_code=error.status, media_type="application/json", headers=headers
        )
