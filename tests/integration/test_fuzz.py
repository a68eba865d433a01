"""No input answers 5xx: Hypothesis sends every route of the shop random path values, query
parameters and form fields (with a valid CSRF token most of the time, so the handlers themselves
are reached, signed in as an owner so the back office is too), and Stripe's endpoint random signed
events. Bounded for `make test`; STOREFRONT_FUZZ_EXAMPLES runs longer."""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from storefront.admin.accounts import add_account
from storefront.admin.models import Role
from storefront.app import create_app
from storefront.sandbox.webhooks import signature_header
from tests.support.db import with_database
from tests.support.factories import paid_order
from tests.support.http import csrf
from tests.support.sandbox import WEBHOOK_SECRET

EXAMPLES = int(os.environ.get("STOREFRONT_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # the same examples on every run: a failure in CI is one a laptop sees too
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PASSWORD = "Velo-Kaffee-Zug-42"
# what the shop's own forms send, so that random values reach the code behind each field
FIELDS = [
    "action", "amount", "change", "city", "country", "current", "delivery", "description", "email",
    "key", "line-1", "name", "new", "next", "on_sale", "password", "period", "phone", "postal_code",
    "price", "q", "quantity", "reason", "repeat", "restock", "shipping", "slug", "street", "tab",
    "tracking", "variant_id", "what", "picture_alt", "variant_rows", "picture_rows", "sku-0",
    "price-0", "stock-0", "option-0", "vat-0", "page",
]  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
VALUE = st.one_of(
    TEXT,
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["", "0", "1", "-1", "1.5", "CH", "LI", "a_post", "pickup", "items", "all", "yes", "de", "fr"]),
    st.sampled_from(["x" * 500, "12.50", "anna@example.ch", "2026-Q4", "NaN", "1e309", "\x00", "<script>"]),
)


def _routes() -> list[tuple[str, str]]:
    from storefront.settings import Settings

    # the routes only: the app is built, never started, so its database is never opened
    app = create_app(Settings(database_url="sqlite:////nonexistent/routes.sqlite", secret_key="k" * 40))
    found = []
    for route in app.routes:
        if route.path.startswith(("/schema", "/assets", "/media")) or route.path == "/admin/sign-out":
            continue  # files, the API description, and signing out (the back office is fuzzed signed in)
        for method in sorted(getattr(route, "methods", ())):
            if method in ("GET", "POST"):
                found.append((method, route.path))
    return found


ROUTES = _routes()
PARAMETER = re.compile(r"\{(\w+):(\w+)\}")


def _path_value(name: str, kind: str) -> st.SearchStrategy[str]:
    if kind == "int":
        return st.one_of(st.integers(1, 5), st.integers(-(2**70), 2**70)).map(str)
    known = {"language": ["en", "de", "fr", "it", "xx"], "slug": ["socks", "mug"], "page": ["imprint", "privacy"]}
    return st.one_of(st.sampled_from(known.get(name, ["1001", "x"])), TEXT).map(lambda v: quote(v, safe=""))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method, template = draw(st.sampled_from(ROUTES))
    path = PARAMETER.sub(lambda m: draw(_path_value(m.group(1), m.group(2))) or "x", template)
    fields = draw(st.dictionaries(st.one_of(st.sampled_from(FIELDS), TEXT), VALUE, max_size=8))
    return {
        "method": method,
        "path": path,
        "fields": fields,
        "with_token": draw(st.integers(0, 9)) > 0,  # nine times in ten, so the handlers are reached
        "htmx": draw(st.booleans()),
    }


@pytest.fixture
def fuzz_client(settings):
    paid_order(settings, ("MUG", 1))  # an order with a payment and e-mails for the back office to show
    with_database(settings, lambda db, _c: add_account(db, "owner@example.ch", Role.OWNER, PASSWORD))
    with TestClient(app=create_app(settings)) as client:
        signed_in = client.post(
            "/admin/sign-in",
            data={"_csrf_token": csrf(client), "email": "owner@example.ch", "password": PASSWORD, "next": "/admin"},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        yield client


def test_no_form_field_path_or_query_answers_5xx(fuzz_client):
    client = fuzz_client
    token = csrf(client)

    @FUZZ
    @given(requests())
    def check(request: dict[str, Any]) -> None:
        fields = dict(request["fields"])
        if request["with_token"]:
            fields["_csrf_token"] = token
        headers = {"HX-Request": "true"} if request["htmx"] else {}
        if request["method"] == "GET":
            response = client.get(request["path"], params=fields, headers=headers, follow_redirects=False)
        else:
            response = client.post(request["path"], data=fields, headers=headers, follow_redirects=False)
        assert response.status_code < 500, (request, response.status_code, response.text[:500])

    check()


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
EVENT_TYPES = ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
               "payment_intent.requires_action", "refund.updated", "refund.failed", "charge.refunded", "x"]  # fmt: skip


@st.composite
def events(draw: st.DrawFn) -> Any:
    """Signed events shaped like Stripe's, with any field missing, of another type or random."""
    obj = draw(st.dictionaries(st.sampled_from(["id", "object", "amount", "currency", "status", "metadata",
                                                "last_payment_error", "payment_intent", "client_secret"]),
                               JSON, max_size=9))  # fmt: skip
    event = draw(st.dictionaries(st.sampled_from(["id", "type", "data", "created"]), JSON, max_size=4))
    if draw(st.booleans()):
        event["type"] = draw(st.sampled_from(EVENT_TYPES))
        event["id"] = "evt_" + draw(TEXT)
        event["data"] = {"object": obj}
    return draw(st.one_of(st.just(event), JSON))


def test_no_signed_event_answers_5xx(fuzz_client):
    client = fuzz_client

    @FUZZ
    @given(events())
    def check(event: Any) -> None:
        payload = json.dumps(event)
        response = client.post(
            "/webhooks/stripe",
            content=payload.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": signature_header(payload, WEBHOOK_SECRET)},
        )
        assert response.status_code < 500, (payload[:500], response.status_code, response.text[:300])

    check()
