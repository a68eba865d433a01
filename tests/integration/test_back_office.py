"""The back office through HTTP, against a real sandbox: signing in (throttled, sessions that end),
roles, the orders list and page, shipping and pick-up, cancelling an unpaid order, and refunds
through Stripe, including a double click and refunds made in Stripe's dashboard."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from storefront.admin.accounts import add_account, end_idle_sessions
from storefront.admin.models import Role
from storefront.app import create_app
from storefront.db import Database
from storefront.i18n import LANGUAGE_COOKIE
from storefront.orders.backoffice import Tab, list_orders
from storefront.orders.lifecycle import apply_payment_state, start_payment
from storefront.orders.provider import order_reference
from storefront.orders.timeline import Source
from storefront.payments.gateway import StripeGateway
from storefront.sandbox.app import create_sandbox_app
from storefront.sandbox.base import Call
from storefront.sandbox.faults import set_switches
from storefront.settings import Settings
from tests.support.db import ROOT, execute, order_status, payments, query, stock, with_database, write_meanwhile
from tests.support.factories import fill_cart, place
from tests.support.http import HTMX, csrf, serve, text_of
from tests.support.sandbox import SECRET_KEY, WEBHOOK_SECRET, Sandbox
from tests.support.webhooks import deliver

OWNER = "owner@example.ch"
STAFF = "staff@example.ch"
PASSWORD = "Velo-Kaffee-Zug-42"


@pytest.fixture(scope="module")
def stripe_sandbox() -> Iterator[Sandbox]:
    app = create_sandbox_app()
    with serve(app) as url:
        yield Sandbox(url=url, store=app.state.sandbox_store)


@pytest.fixture
def shop_settings(settings: Settings, stripe_sandbox: Sandbox) -> Settings:
    set_switches(stripe_sandbox.store, refund_delay_s=0.0, refund_fails=False)
    shop = dataclasses.replace(settings, stripe_secret_key=SECRET_KEY, stripe_api_base=stripe_sandbox.url)
    with_database(shop, lambda db, _c: add_account(db, OWNER, Role.OWNER, PASSWORD))
    with_database(shop, lambda db, _c: add_account(db, STAFF, Role.STAFF, PASSWORD))
    return shop


@pytest.fixture
def app_client(shop_settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(shop_settings)) as client:
        client.cookies.set(LANGUAGE_COOKIE, "en")  # the words the assertions read
        yield client


def sign_in(client: TestClient[Any], email: str = OWNER, password: str = PASSWORD, **headers: str) -> Any:
    return client.post(
        "/admin/sign-in",
        data={"_csrf_token": csrf(client), "email": email, "password": password, "next": "/admin/orders"},
        headers=headers,
        follow_redirects=False,
    )


def post(client: TestClient[Any], path: str, **fields: Any) -> Any:
    return client.post(path, data={"_csrf_token": csrf(client), **fields}, follow_redirects=False)


def paid(settings: Settings, sandbox: Sandbox, *lines: tuple[str, int], method: str = "a_post") -> Any:
    """An order paid through the sandbox: its PaymentIntent created by the shop, authorised in TWINT."""
    order = place(settings, fill_cart(settings, *lines), method)
    gateway = StripeGateway(settings)
    assert with_database(settings, lambda db, _c: start_payment(db, gateway, order.id))
    (intent_id,) = [row[0] for row in payments(settings, order.id)]
    sandbox.customer_confirms(intent_id)
    sandbox.authorize(intent_id)

    async def learn(database: Database, _catalog: Any) -> None:
        await apply_payment_state(database, await gateway.retrieve_intent(intent_id), Source.WEBHOOK)

    with_database(settings, learn)
    assert order_status(settings, order.id) == "paid"
    return order


def forward_events(client: TestClient[Any], sandbox: Sandbox, object_id: str) -> list[int]:
    """Deliver the sandbox's events about an object to the shop, signed, as Stripe would."""
    return [deliver(client, e, WEBHOOK_SECRET).status_code for e in sandbox.events_for(object_id)]


# --- signing in ----------------------------------------------------------------------------------------


def test_every_back_office_route_refuses_a_visitor_without_a_session(app_client):
    """Found by walking the app's routes, so a new page cannot be forgotten."""
    routes = [
        (route.path, method)
        for route in app_client.app.routes
        if route.path.startswith("/admin")
        for method in getattr(route, "methods", ())
        if method not in {"HEAD", "OPTIONS"}
    ]
    assert len(routes) >= 12
    open_to_all = {("/admin/sign-in", "GET"), ("/admin/sign-in", "POST")}
    for path, method in routes:
        concrete = re.sub(r"\{[^}:]+:int\}", "1", re.sub(r"\{[^}]+\}", "10042", path))
        response = app_client.request(
            method,
            concrete,
            data={"_csrf_token": csrf(app_client)} if method == "POST" else None,
            follow_redirects=False,
        )
        if (path, method) in open_to_all:
            assert response.status_code in {200, 400}, (path, method)
            continue
        assert response.status_code == 303, (path, method, response.status_code)
        assert response.headers["location"].startswith("/admin/sign-in?next=/admin"), (path, method)


def test_signing_in_sets_a_strict_cookie_for_the_back_office_only(app_client):
    answer = sign_in(app_client)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/orders"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/admin" in cookie
    assert "secure" not in cookie  # development; production sets Secure (settings test)
    page = app_client.get("/admin/orders")
    assert page.status_code == 200 and "owner@example.ch" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert app_client.get("/admin").headers.get("location") is None  # followed to the orders list


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(app_client, caplog):
    logger = logging.getLogger("storefront")
    logger.addHandler(caplog.handler)
    try:
        wrong_password = sign_in(app_client, OWNER, "not-the-password")
        unknown = sign_in(app_client, "nobody@example.ch", PASSWORD)
    finally:
        logger.removeHandler(caplog.handler)
    failures = {r.getMessage() for r in caplog.records if r.name == "storefront.admin"}
    assert failures == {
        "sign-in failed for owner@example.ch from testclient",
        "sign-in failed for nobody@example.ch from testclient",
    }
    assert all("not-the-password" not in message and PASSWORD not in message for message in failures)
    assert wrong_password.status_code == unknown.status_code == 400
    assert text_of(wrong_password.text).count("The e-mail address or the password is wrong.") == 1
    assert text_of(unknown.text).count("The e-mail address or the password is wrong.") == 1
    assert "storefront_staff" not in app_client.cookies


def test_five_failures_slow_down_the_next_attempt_even_with_the_right_password(app_client, shop_settings):
    for _ in range(5):
        assert sign_in(app_client, OWNER, "guess-" + "x" * 10).status_code == 400
    throttled = sign_in(app_client, OWNER, PASSWORD)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert "storefront_staff" not in app_client.cookies
    # Another address is slowed down too for this account; once the delay is over, the right password works.
    execute(
        shop_settings.database_url,
        "UPDATE sign_in_failure SET at = :at",
        at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2),
    )
    assert sign_in(app_client, OWNER, PASSWORD).status_code == 303
    assert query(shop_settings.database_url, "SELECT count(*) FROM sign_in_failure WHERE email = :e", e=OWNER) == [(0,)]


def test_failures_from_one_address_slow_down_every_account_from_it(app_client):
    for number in range(5):
        sign_in(app_client, f"guess{number}@example.ch", PASSWORD)
    assert sign_in(app_client, STAFF, PASSWORD).status_code == 429


def test_sign_out_ends_the_session_on_the_server(app_client, shop_settings):
    sign_in(app_client)
    token = app_client.cookies["storefront_staff"]
    assert post(app_client, "/admin/sign-out").status_code == 303
    assert query(shop_settings.database_url, "SELECT count(*) FROM staff_session") == [(0,)]
    app_client.cookies.set("storefront_staff", token, path="/admin")  # a copied cookie no longer works
    assert app_client.get("/admin/orders", follow_redirects=False).status_code == 303


def test_a_session_ends_after_the_idle_time(app_client, shop_settings):
    sign_in(app_client)
    idle = dt.datetime.now(dt.UTC) - dt.timedelta(hours=shop_settings.staff_session_hours, minutes=1)
    execute(shop_settings.database_url, "UPDATE staff_session SET last_seen_at = :at", at=idle)
    assert app_client.get("/admin/orders", follow_redirects=False).status_code == 303
    assert query(shop_settings.database_url, "SELECT count(*) FROM staff_session") == [(0,)]


def test_sessions_left_idle_are_forgotten_by_the_periodic_round(app_client, shop_settings):
    sign_in(app_client)
    with TestClient(app=create_app(shop_settings)) as other_browser:
        sign_in(other_browser, STAFF)
    idle = dt.datetime.now(dt.UTC) - dt.timedelta(hours=13)
    execute(
        shop_settings.database_url,
        "UPDATE staff_session SET last_seen_at = :at WHERE id = (SELECT min(id) FROM staff_session)",
        at=idle,
    )
    ended = with_database(shop_settings, lambda db, _c: end_idle_sessions(db, dt.timedelta(hours=12)))
    assert ended == 1
    assert query(shop_settings.database_url, "SELECT count(*) FROM staff_session") == [(1,)]


def test_changing_the_password_ends_every_other_session(shop_settings):
    with TestClient(app=create_app(shop_settings)) as laptop, TestClient(app=create_app(shop_settings)) as phone:
        for client in (laptop, phone):
            client.cookies.set(LANGUAGE_COOKIE, "en")
            sign_in(client)
        new = "Neue-Velo-Route-2027"
        weak = post(laptop, "/admin/account/password", current=PASSWORD, new="password1234", repeat="password1234")
        assert weak.status_code == 400 and "commonly used" in text_of(weak.text)
        changed = post(laptop, "/admin/account/password", current=PASSWORD, new=new, repeat=new)
        assert changed.status_code == 303
        assert laptop.get("/admin/orders", follow_redirects=False).status_code == 200
        assert phone.get("/admin/orders", follow_redirects=False).status_code == 303
        assert sign_in(phone, OWNER, PASSWORD).status_code == 400
        assert sign_in(phone, OWNER, new).status_code == 303


def test_a_form_without_its_csrf_token_is_refused(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    sign_in(app_client)
    answer = app_client.post(f"/admin/orders/{order.number}/ship", data={"tracking": ""}, follow_redirects=False)
    assert answer.status_code == 403
    assert order_fulfilment(shop_settings, order.id) == "open"


# --- orders --------------------------------------------------------------------------------------------


def order_fulfilment(settings: Settings, order_id: int) -> str:
    found: str = query(settings.database_url, "SELECT fulfilment FROM shop_order WHERE id = :id", id=order_id)[0][0]
    return found


def test_the_orders_list_counts_the_tabs_that_ask_for_action_and_finds_by_number_name_and_email(
    app_client, shop_settings, stripe_sandbox
):
    to_ship = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    waiting = place(shop_settings, fill_cart(shop_settings, ("HONEY-250", 1)))
    sign_in(app_client)
    page = text_of(app_client.get("/admin/orders").text)
    assert "To ship 1" in page and "Waiting for payment 1" in page and "Needs attention 0" in page
    # the history is not counted on every visit: shipped, cancelled and all orders have no number
    assert re.search(r"Shipped\s+Cancelled\s+All\s", page), page
    assert to_ship.number in page and waiting.number not in page
    waiting_tab = text_of(app_client.get("/admin/orders?tab=waiting").text)
    assert waiting.number in waiting_tab and to_ship.number not in waiting_tab
    for term in (waiting.number, "Anna", "anna@example"):
        found = text_of(app_client.get("/admin/orders", params={"tab": "all", "q": term}).text)
        assert waiting.number in found, term
    assert to_ship.number not in text_of(app_client.get("/admin/orders", params={"tab": "all", "q": "nobody"}).text)


def test_htmx_swaps_the_orders_list_without_the_page_around_it(app_client, shop_settings, stripe_sandbox):
    paid(shop_settings, stripe_sandbox, ("MUG", 1))
    sign_in(app_client)
    full = app_client.get("/admin/orders?tab=all")
    boosted = app_client.get("/admin/orders?tab=all", headers={**HTMX, "HX-Boosted": "true"})
    assert 'id="orders"' in full.text and 'id="orders"' in boosted.text  # hx-select takes the list
    assert full.headers["vary"].startswith("HX-Request")


def test_the_list_pages_through_orders_newest_first(app_client, shop_settings):
    numbers = [place(shop_settings, fill_cart(shop_settings, ("HONEY-250", 1))).number for _ in range(27)]
    sign_in(app_client)
    first = text_of(app_client.get("/admin/orders?tab=waiting").text)
    assert numbers[-1] in first and numbers[1] not in first and "Older" in first
    second = text_of(app_client.get("/admin/orders?tab=waiting&page=2").text)
    assert numbers[0] in second and numbers[1] in second and numbers[-1] not in second


def test_each_tab_pages_through_its_orders_newest_first_whatever_their_fulfilment(shop_settings):
    """To ship and Shipped each hold two kinds of fulfilment, read as two ranges of an index and
    merged: the pages must come out as one list, newest first, with nothing lost or repeated."""
    for _ in range(33):
        place(shop_settings, fill_cart(shop_settings, ("HONEY-250", 1)))
    url = shop_settings.database_url
    ids = [row[0] for row in query(url, "SELECT id FROM shop_order ORDER BY id")]
    # mostly sent by post, so the second page reaches deep into one of the two ranges
    kinds = ["shipped", "picked_up", "shipped"] + ["ready_for_pickup" if i in (5, 17) else "open" for i in range(30)]
    for order_id, kind in zip(ids, kinds, strict=True):
        execute(url, "UPDATE shop_order SET status = 'paid', fulfilment = :f WHERE id = :id", f=kind, id=order_id)
    newest = list(reversed(list(zip(ids, kinds, strict=True))))
    newest_first = {
        Tab.TO_SHIP: [i for i, k in newest if k in ("open", "ready_for_pickup")],
        Tab.SHIPPED: [i for i, k in newest if k in ("shipped", "picked_up")],
    }

    async def pages(database: Database, _catalog: Any) -> dict[tuple[Tab, str, int], list[int]]:
        return {
            (tab, q, page): [row.id for row in (await list_orders(database, tab, q, page)).rows]
            for tab in newest_first
            for q in ("", "anna")
            for page in (1, 2, 3)
        }

    listed = with_database(shop_settings, pages)
    for (tab, q, page), found in listed.items():
        assert found == newest_first[tab][(page - 1) * 25 : page * 25], (tab, q, page)
    assert len(listed[(Tab.TO_SHIP, "", 2)]) == 5 and listed[(Tab.SHIPPED, "", 2)] == []


def test_the_order_page_shows_lines_vat_customer_payments_and_the_timeline(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 2))
    sign_in(app_client)
    page = text_of(app_client.get(f"/admin/orders/{order.number}").text)
    intent_id = payments(shop_settings, order.id)[0][0]
    for expected in (
        "Enamel Mug",
        "CHF\u00a022.00",  # unit price
        "CHF\u00a044.00",  # line total
        "incl. 8.1\u00a0% VAT on CHF\u00a053.00 CHF\u00a03.97",
        "Anna Muster",
        "anna@example.ch",
        intent_id,
        "Succeeded",
        "Placed checkout · stock reserved",
        "pending → succeeded",
        "webhook",
        "order_paid to anna@example.ch",
        "owner_order_paid to shop@example.ch",
    ):
        assert expected in page, expected


def test_an_unknown_order_is_a_404_page(app_client):
    sign_in(app_client)
    assert app_client.get("/admin/orders/99999").status_code == 404


# --- fulfilment ------------------------------------------------------------------------------------------


def test_shipping_with_a_tracking_number_emails_the_customer_a_swiss_post_link(
    app_client, shop_settings, stripe_sandbox
):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    sign_in(app_client, STAFF)
    bad = post(app_client, f"/admin/orders/{order.number}/ship", tracking="hello")
    assert bad.status_code == 409 and "not a Swiss Post consignment number" in text_of(bad.text)
    assert 'value="hello"' in bad.text  # what was typed is kept
    shipped = post(app_client, f"/admin/orders/{order.number}/ship", tracking="99.00.123456.12345678")
    assert shipped.status_code == 303
    assert post(app_client, f"/admin/orders/{order.number}/ship", tracking="").status_code == 303  # a second click
    assert order_fulfilment(shop_settings, order.id) == "shipped"
    (body,) = query(
        shop_settings.database_url,
        "SELECT body FROM outbox_email WHERE order_id = :id AND kind = 'order_shipped'",
        id=order.id,
    )[0:1][0]
    assert "https://service.post.ch/ekp-web/ui/entry/search/99.00.123456.12345678" in body
    page = text_of(app_client.get(f"/admin/orders/{order.number}").text)
    assert f"Shipped back office · {STAFF}" in page
    assert "To ship 0" in text_of(app_client.get("/admin/orders").text)
    assert order.number in text_of(app_client.get("/admin/orders?tab=shipped").text)


def test_a_pick_up_order_is_made_ready_then_picked_up_and_cannot_be_shipped(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1), method="pickup")
    sign_in(app_client, STAFF)
    assert post(app_client, f"/admin/orders/{order.number}/ship", tracking="").status_code == 409
    assert post(app_client, f"/admin/orders/{order.number}/ready-for-pickup").status_code == 303
    emails = query(shop_settings.database_url, "SELECT kind, body FROM outbox_email WHERE order_id = :id", id=order.id)
    ready = [body for kind, body in emails if kind == "ready_for_pickup"]
    assert ready and "Musterstrasse 1" in ready[0]
    assert post(app_client, f"/admin/orders/{order.number}/picked-up").status_code == 303
    assert order_fulfilment(shop_settings, order.id) == "picked_up"


def test_an_unpaid_order_cannot_be_shipped_and_a_shipped_one_cannot_be_cancelled(
    app_client, shop_settings, stripe_sandbox
):
    waiting = place(shop_settings, fill_cart(shop_settings, ("MUG", 1)))
    sign_in(app_client)
    assert post(app_client, f"/admin/orders/{waiting.number}/ship", tracking="").status_code == 409
    shipped = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    post(app_client, f"/admin/orders/{shipped.number}/ship", tracking="")
    refused = post(app_client, f"/admin/orders/{shipped.number}/cancel")
    assert refused.status_code == 409 and "refunded instead" in text_of(refused.text)
    assert order_status(shop_settings, shipped.id) == "paid"


def test_an_e_mail_the_mail_server_refused_can_be_sent_again_from_the_order(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    execute(
        shop_settings.database_url,
        "UPDATE outbox_email SET attempts = 1, last_error = :error, given_up_at = CURRENT_TIMESTAMP"
        " WHERE order_id = :order AND kind = 'order_paid'",
        error="SMTPRecipientsRefused: 550 5.1.1 No such user here",
        order=order.id,
    )
    ((email_id,),) = query(shop_settings.database_url, "SELECT id FROM outbox_email WHERE kind = 'order_paid'")
    sign_in(app_client, STAFF)
    page = app_client.get(f"/admin/orders/{order.number}")
    assert "E-mail not sent" in text_of(page.text)
    assert "550 5.1.1 No such user here" in text_of(page.text)
    assert f"/emails/{email_id}/send-again" in page.text
    assert post(app_client, f"/admin/orders/{order.number}/emails/{email_id}/send-again").status_code == 303
    assert query(
        shop_settings.database_url,
        "SELECT attempts, given_up_at IS NULL, next_attempt_at IS NULL FROM outbox_email WHERE id = :id",
        id=email_id,
    ) == [(0, True, True)]
    again = app_client.get(f"/admin/orders/{order.number}")
    assert "E-mail to be sent again" in text_of(again.text)
    # twice, or for another order's e-mail: refused, nothing changed
    assert post(app_client, f"/admin/orders/{order.number}/emails/{email_id}/send-again").status_code == 409
    other = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    assert post(app_client, f"/admin/orders/{other.number}/emails/{email_id}/send-again").status_code == 409


# --- cancelling --------------------------------------------------------------------------------------------


def test_cancelling_an_unpaid_order_calls_off_its_payment_and_gives_the_stock_back(
    app_client, shop_settings, stripe_sandbox
):
    before = stock(shop_settings, "MUG")
    order = place(shop_settings, fill_cart(shop_settings, ("MUG", 3)))
    with_database(shop_settings, lambda db, _c: start_payment(db, StripeGateway(shop_settings), order.id))
    intent_id = payments(shop_settings, order.id)[0][0]
    assert stripe_sandbox.account.retrieve("payment_intent", intent_id)["metadata"] == {
        "order_id": str(order.id),
        "order_number": order.number,
        "order_ref": order_reference(order.public_token),  # the token itself never goes to Stripe
        "shop": "127.0.0.1:8000",  # the shop's address, for whoever reads Stripe's dashboard
        "environment": "development",
    }
    assert stock(shop_settings, "MUG") == before - 3
    sign_in(app_client, STAFF)
    assert post(app_client, f"/admin/orders/{order.number}/cancel").status_code == 303
    assert order_status(shop_settings, order.id) == "cancelled"
    assert stock(shop_settings, "MUG") == before
    assert stripe_sandbox.account.retrieve("payment_intent", intent_id)["status"] == "canceled"
    assert payments(shop_settings, order.id) == [(intent_id, "canceled")]
    assert "cancelled by hand" in text_of(app_client.get(f"/admin/orders/{order.number}").text)


def test_cancelling_an_order_the_customer_has_just_paid_keeps_it_paid(app_client, shop_settings, stripe_sandbox):
    order = place(shop_settings, fill_cart(shop_settings, ("MUG", 1)))
    with_database(shop_settings, lambda db, _c: start_payment(db, StripeGateway(shop_settings), order.id))
    intent_id = payments(shop_settings, order.id)[0][0]
    stripe_sandbox.customer_confirms(intent_id)
    stripe_sandbox.authorize(intent_id)  # paid at Stripe; the shop has not heard yet
    sign_in(app_client)
    refused = post(app_client, f"/admin/orders/{order.number}/cancel")
    assert refused.status_code == 409 and "just paid" in text_of(refused.text)
    assert order_status(shop_settings, order.id) == "paid"


# --- refunds -----------------------------------------------------------------------------------------------


def line_ids(settings: Settings, order_id: int) -> dict[str, int]:
    rows = query(settings.database_url, "SELECT sku, id FROM order_line WHERE order_id = :id ORDER BY id", id=order_id)
    return dict(rows)


def refunds(settings: Settings, order_id: int) -> list[tuple[Any, ...]]:
    return query(
        settings.database_url,
        "SELECT r.amount, r.status, r.refund_id FROM refund r JOIN payment p ON p.id = r.payment_id"
        " WHERE p.order_id = :id ORDER BY r.id",
        id=order_id,
    )


def test_a_staff_account_cannot_refund(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    sign_in(app_client, STAFF)
    assert "Refund through Stripe" not in app_client.get(f"/admin/orders/{order.number}").text
    refused = post(app_client, f"/admin/orders/{order.number}/refunds", what="all", reason="asked", key="k1")
    assert refused.status_code == 403
    assert "Your account may not do this" in text_of(refused.text)
    payment_id = query(shop_settings.database_url, "SELECT id FROM payment WHERE order_id = :id", id=order.id)[0][0]
    assert post(app_client, f"/admin/orders/{order.number}/payments/{payment_id}/refund", key="k2").status_code == 403
    assert refunds(shop_settings, order.id) == []


def test_a_partial_refund_by_line_goes_from_pending_to_refunded_and_emails_the_customer(
    app_client, shop_settings, stripe_sandbox
):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 2), ("HONEY-250", 1))
    lines = line_ids(shop_settings, order.id)
    mugs_before = stock(shop_settings, "MUG")
    sign_in(app_client)
    asked = post(
        app_client,
        f"/admin/orders/{order.number}/refunds",
        what="items",
        key="refund-1",
        reason="one mug arrived broken",
        restock="yes",
        **{f"line-{lines['MUG']}": "1", f"line-{lines['HONEY-250']}": "0"},
    )
    assert asked.status_code == 303 and asked.headers["location"].endswith("done=refund")
    ((amount, status, refund_id),) = refunds(shop_settings, order.id)
    assert (amount, status) == (22_00, "pending") and refund_id.startswith("re_")
    assert stock(shop_settings, "MUG") == mugs_before + 1  # back on the shelf
    assert "Pending" in text_of(app_client.get(f"/admin/orders/{order.number}").text)
    stripe_sandbox.account.settle_due_refunds()
    assert set(forward_events(app_client, stripe_sandbox, refund_id)) == {200}
    assert refunds(shop_settings, order.id) == [(22_00, "succeeded", refund_id)]
    emails = query(shop_settings.database_url, "SELECT kind, body FROM outbox_email WHERE order_id = :id", id=order.id)
    refunded = [body for kind, body in emails if kind.startswith("refund_")]
    assert len(refunded) == 1 and "22.00" in refunded[0]
    assert payments(shop_settings, order.id)[0][1] == "succeeded"  # only part of it went back
    # The same mug cannot be refunded twice over: one of the two is left.
    too_many = post(
        app_client,
        f"/admin/orders/{order.number}/refunds",
        what="items",
        key="refund-2",
        reason="again",
        **{f"line-{lines['MUG']}": "2"},
    )
    assert too_many.status_code == 409 and "Only 1 of 2" in text_of(too_many.text)


def test_a_double_click_on_refund_refunds_once(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    sign_in(app_client)
    fields = {"what": "all", "key": "same-form", "reason": "customer withdrew"}
    answers = [post(app_client, f"/admin/orders/{order.number}/refunds", **fields).status_code for _ in range(3)]
    assert answers == [303, 303, 303]
    assert len(refunds(shop_settings, order.id)) == 1
    intent_id = payments(shop_settings, order.id)[0][0]
    assert len([r for r in stripe_sandbox.account.list_refunds({"payment_intent": intent_id})["data"]]) == 1


def test_a_double_click_at_the_same_moment_refunds_once(shop_settings, stripe_sandbox):
    from storefront.orders.refunds import request_refund

    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    gateway = StripeGateway(shop_settings)

    async def clicks(database: Database, _catalog: Any) -> list[Any]:
        return await asyncio.gather(
            *(
                request_refund(database, gateway, order.id, key="one-form", actor=OWNER, reason="twice", amount=500)
                for _ in range(5)
            )
        )

    outcomes = with_database(shop_settings, clicks)
    assert len({outcome.refund_row_id for outcome in outcomes}) == 1
    assert [row[0] for row in refunds(shop_settings, order.id)] == [500]


def test_a_refund_may_not_exceed_what_is_left_nor_come_after_180_days(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))  # CHF 22.00 + 9.00 delivery
    sign_in(app_client)
    too_much = post(
        app_client, f"/admin/orders/{order.number}/refunds", what="amount", amount="31.01", key="a", reason="x"
    )
    assert too_much.status_code == 409 and "At most CHF\u00a031.00" in text_of(too_much.text)
    assert (
        post(
            app_client, f"/admin/orders/{order.number}/refunds", what="amount", amount="20.00", key="b", reason="x"
        ).status_code
        == 303
    )
    rest = post(app_client, f"/admin/orders/{order.number}/refunds", what="amount", amount="11.01", key="c", reason="x")
    assert rest.status_code == 409 and "At most CHF\u00a011.00" in text_of(rest.text)
    bad = post(app_client, f"/admin/orders/{order.number}/refunds", what="amount", amount="ten", key="d", reason="x")
    assert bad.status_code == 409 and "such as 12.50" in text_of(bad.text)
    no_reason = post(app_client, f"/admin/orders/{order.number}/refunds", what="all", key="e", reason=" ")
    assert no_reason.status_code == 409
    execute(
        shop_settings.database_url,
        "UPDATE payment SET created_at = :at WHERE order_id = :id",
        at=dt.datetime.now(dt.UTC) - dt.timedelta(days=181),
        id=order.id,
    )
    late = post(app_client, f"/admin/orders/{order.number}/refunds", what="all", key="f", reason="x")
    assert late.status_code == 409 and "180 days" in text_of(late.text)
    assert [row[0] for row in refunds(shop_settings, order.id)] == [20_00]


def test_a_refund_stripe_fails_needs_attention(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    set_switches(stripe_sandbox.store, refund_fails=True)
    sign_in(app_client)
    post(app_client, f"/admin/orders/{order.number}/refunds", what="all", key="k", reason="returned")
    ((_amount, _status, refund_id),) = refunds(shop_settings, order.id)
    stripe_sandbox.account.settle_due_refunds()
    forward_events(app_client, stripe_sandbox, refund_id)
    assert refunds(shop_settings, order.id)[0][1] == "failed"
    attention = text_of(app_client.get("/admin/orders?tab=attention").text)
    assert "Needs attention 1" in attention and order.number in attention


def test_an_email_that_could_not_be_sent_needs_attention(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    execute(
        shop_settings.database_url,
        "UPDATE outbox_email SET attempts = 3, last_error = '451 greylisted'"
        " WHERE order_id = :id AND kind = 'order_paid'",
        id=order.id,
    )
    sign_in(app_client)
    listed = text_of(app_client.get("/admin/orders?tab=attention").text)
    assert "Needs attention 1" in listed and order.number in listed
    page = text_of(app_client.get(f"/admin/orders/{order.number}").text)
    assert (
        "E-mail failed, tried again later outbox · order_paid to anna@example.ch: 3 attempt(s),"
        " last error: 451 greylisted" in page
    )


def test_money_paid_twice_is_refunded_with_one_button(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    gateway = StripeGateway(shop_settings)
    # TWINT took the money a second time, through a second PaymentIntent for the same order.
    second = stripe_sandbox.account.create_payment_intent(
        {
            "amount": str(order.total),
            "currency": "chf",
            "allowed_payment_method_types": ["twint"],
            "metadata": {
                "order_id": str(order.id),
                "order_ref": order_reference(order.public_token),
                "environment": "development",
            },
        },
        Call("req_second"),
    )
    stripe_sandbox.customer_confirms(second["id"])
    stripe_sandbox.authorize(second["id"])

    async def learn(database: Database, _catalog: Any) -> None:
        await apply_payment_state(database, await gateway.retrieve_intent(second["id"]), Source.WEBHOOK)

    with_database(shop_settings, learn)
    assert (second["id"], "refund_due") in payments(shop_settings, order.id)
    sign_in(app_client)
    assert order.number in text_of(app_client.get("/admin/orders?tab=attention").text)
    payment_id = query(shop_settings.database_url, "SELECT id FROM payment WHERE intent_id = :i", i=second["id"])[0][0]
    assert post(app_client, f"/admin/orders/{order.number}/payments/{payment_id}/refund", key="due").status_code == 303
    ((amount, _status, refund_id),) = refunds(shop_settings, order.id)
    assert amount == order.total
    stripe_sandbox.account.settle_due_refunds()
    forward_events(app_client, stripe_sandbox, refund_id)
    assert (second["id"], "refunded") in payments(shop_settings, order.id)
    assert order_status(shop_settings, order.id) == "paid"  # the order keeps its first payment
    assert order.number not in text_of(app_client.get("/admin/orders?tab=attention").text)


def test_a_refund_made_in_stripes_dashboard_shows_up_on_the_order(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    intent_id = payments(shop_settings, order.id)[0][0]
    made = stripe_sandbox.account.refund_from_dashboard(intent_id, amount=10_00)
    assert set(forward_events(app_client, stripe_sandbox, made["id"])) == {200}  # refund.created
    assert refunds(shop_settings, order.id) == [(10_00, "pending", made["id"])]
    stripe_sandbox.account.settle_due_refunds()
    charge = stripe_sandbox.account.retrieve("payment_intent", intent_id)["latest_charge"]
    assert set(
        forward_events(app_client, stripe_sandbox, made["id"]) + forward_events(app_client, stripe_sandbox, charge)
    ) == {200}
    assert refunds(shop_settings, order.id) == [(10_00, "succeeded", made["id"])]
    sign_in(app_client)
    page = text_of(app_client.get(f"/admin/orders/{order.number}").text)
    assert "Stripe dashboard" in page and made["id"] in page
    emails = query(shop_settings.database_url, "SELECT kind FROM outbox_email WHERE order_id = :id", id=order.id)
    assert sum(kind.startswith("refund_") for (kind,) in emails) == 1


def test_a_refund_of_another_shop_is_ignored(app_client, shop_settings, stripe_sandbox):
    other = stripe_sandbox.account.create_payment_intent(
        {"amount": "1000", "currency": "chf", "allowed_payment_method_types": ["twint"]},
        Call("req_other"),
    )
    stripe_sandbox.customer_confirms(other["id"])
    stripe_sandbox.authorize(other["id"])
    made = stripe_sandbox.account.refund_from_dashboard(other["id"])
    assert set(forward_events(app_client, stripe_sandbox, made["id"])) == {200}
    assert query(shop_settings.database_url, "SELECT count(*) FROM refund") == [(0,)]


def test_stripe_unreachable_keeps_the_refund_and_the_reconciler_sends_it_later(
    app_client, shop_settings, stripe_sandbox
):
    from storefront.orders.refunds import settle_refunds

    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    sign_in(app_client)
    set_switches(stripe_sandbox.store, api_fault="error_500", api_fault_count=10)
    try:
        asked = post(app_client, f"/admin/orders/{order.number}/refunds", what="all", key="later", reason="returned")
    finally:
        set_switches(stripe_sandbox.store, api_fault="none", api_fault_count=0)
    assert asked.headers["location"].endswith("done=refund-retry")
    assert refunds(shop_settings, order.id) == [(order.total, "requested", None)]
    execute(
        shop_settings.database_url,
        "UPDATE refund SET updated_at = :at",
        at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2),
    )
    outcomes = with_database(shop_settings, lambda db, _c: settle_refunds(db, StripeGateway(shop_settings)))
    assert list(outcomes.values()) == ["pending"]
    ((_amount, status, refund_id),) = refunds(shop_settings, order.id)
    assert status == "pending" and refund_id.startswith("re_")


def test_the_event_of_the_shops_own_refund_arriving_before_stripes_answer_finds_its_record(
    app_client, shop_settings, stripe_sandbox
):
    """Stripe made the refund, but its answer was lost (or is slower than its webhook): the event
    is matched to the shop's record through the key in the refund's metadata, never recorded twice."""
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))
    intent_id = payments(shop_settings, order.id)[0][0]
    sign_in(app_client)
    set_switches(stripe_sandbox.store, api_fault="error_500", api_fault_count=10)
    try:
        post(app_client, f"/admin/orders/{order.number}/refunds", what="all", key="lost-answer", reason="returned")
    finally:
        set_switches(stripe_sandbox.store, api_fault="none", api_fault_count=0)
    assert refunds(shop_settings, order.id) == [(order.total, "requested", None)]
    made = stripe_sandbox.account.create_refund(
        {"payment_intent": intent_id, "metadata": {"storefront_refund": "lost-answer"}}, Call("req_lost")
    )
    assert set(forward_events(app_client, stripe_sandbox, made["id"])) == {200}
    assert refunds(shop_settings, order.id) == [(order.total, "pending", made["id"])]


def test_the_owner_sees_the_quarters_vat_figures_and_downloads_them(app_client, shop_settings, stripe_sandbox):
    order = paid(shop_settings, stripe_sandbox, ("MUG", 1))  # 22.00 + A-Post 9.00, this quarter
    sign_in(app_client)
    page = text_of(app_client.get("/admin/figures").text)
    assert "Paid orders: 1 · Refunds paid out: 0" in page
    assert "8.1\u00a0% CHF\u00a031.00 CHF\u00a02.32" in page  # 31.00 × 8.1 / 108.1 = 2.3228
    summary = app_client.get("/admin/figures/vat.csv")
    assert summary.headers["content-type"].startswith("text/csv")
    assert summary.headers["content-disposition"].startswith('attachment; filename="vat-')
    assert summary.content.startswith(b"\xef\xbb\xbf")  # spreadsheets then read it as UTF-8
    assert ",8.1,31.00,2.32,0.00,0.00,31.00,2.32" in summary.text
    orders = app_client.get("/admin/figures/orders.csv")
    assert f"{order.number}," in orders.text and ",MUG," in orders.text
    assert app_client.get("/admin/figures?period=2026-Q9").status_code == 400


def test_a_staff_account_sees_no_vat_figures(app_client):
    sign_in(app_client, STAFF)
    assert "VAT figures" not in app_client.get("/admin/orders").text
    for path in ("/admin/figures", "/admin/figures/vat.csv", "/admin/figures/orders.csv"):
        assert app_client.get(path).status_code == 403, path


# --- products and stock ----------------------------------------------------------------------------


def variant_of(settings: Settings, sku: str) -> int:
    found: int = query(settings.database_url, "SELECT id FROM variant WHERE sku = :s", s=sku)[0][0]
    return found


def movements(settings: Settings) -> list[tuple[Any, ...]]:
    return query(
        settings.database_url,
        "SELECT v.sku, m.change, m.stock_after, m.reason, m.actor FROM stock_movement m"
        " JOIN variant v ON v.id = m.variant_id ORDER BY m.id",
    )


def test_staff_adjust_and_set_stock_with_a_reason_and_the_shop_shows_it_at_once(app_client, shop_settings):
    mug = variant_of(shop_settings, "MUG")
    sign_in(app_client, STAFF)
    assert "MUG" in text_of(app_client.get("/admin/products").text)
    assert post(app_client, f"/admin/products/{mug}/stock", change="+5", reason="delivery").status_code == 303
    assert stock(shop_settings, "MUG") == 17
    assert post(app_client, f"/admin/products/{mug}/stock", change="3", reason="counted the shelf").status_code == 303
    assert stock(shop_settings, "MUG") == 3
    assert "Only 3 left" in text_of(app_client.get("/en/products/mug").text)  # the storefront, at once
    assert movements(shop_settings) == [
        ("MUG", 5, 17, "delivery", STAFF),
        ("MUG", -14, 3, "counted the shelf", STAFF),
    ]
    assert sum(change for _sku, change, *_ in movements(shop_settings)) == 3 - 12  # from the 12 the test began with
    page = text_of(app_client.get("/admin/products").text)
    assert "MUG: -14 → 3" in page and f"{STAFF} · counted the shelf" in page


@pytest.mark.parametrize(
    ("change", "reason", "message"),
    [
        ("-13", "breakage", "Only 12 units are in stock; the stock cannot go below zero."),
        ("five", "delivery", "Write +5 to add units"),
        ("+5", " ", "Say why the stock changes"),
        ("+99999999", "delivery", "Write +5 to add units"),
    ],
)
def test_a_stock_change_that_cannot_be_is_refused_and_changes_nothing(
    app_client, shop_settings, change, reason, message
):
    mug = variant_of(shop_settings, "MUG")
    sign_in(app_client, STAFF)
    refused = post(app_client, f"/admin/products/{mug}/stock", change=change, reason=reason)
    assert refused.status_code == 409 and message in text_of(refused.text)
    assert stock(shop_settings, "MUG") == 12 and movements(shop_settings) == []


def test_stock_changes_at_the_same_moment_all_count(shop_settings):
    from storefront.catalog.backoffice import change_stock

    mug = variant_of(shop_settings, "MUG")

    async def deliveries(database: Database, _catalog: Any) -> None:
        await asyncio.gather(*(change_stock(database, mug, "+1", "delivery", STAFF) for _ in range(10)))

    with_database(shop_settings, deliveries)
    assert stock(shop_settings, "MUG") == 22
    assert [after for _sku, _change, after, *_ in movements(shop_settings)] == list(range(13, 23))


def test_the_owner_changes_a_price_and_takes_a_variant_off_sale_and_the_shop_shows_it_at_once(
    app_client, shop_settings
):
    mug = variant_of(shop_settings, "MUG")
    assert "CHF\u00a022.00" in app_client.get("/en/products/mug").text  # the catalogue is loaded and cached
    sign_in(app_client)
    assert post(app_client, f"/admin/products/{mug}/offer", price="24.50", on_sale="yes").status_code == 303
    assert "CHF\u00a024.50" in app_client.get("/en/products/mug").text
    assert post(app_client, f"/admin/products/{mug}/offer", price="24.50").status_code == 303  # not on sale
    assert app_client.get("/en/products/mug").status_code == 404
    bad = post(app_client, f"/admin/products/{mug}/offer", price="0.00", on_sale="yes")
    assert bad.status_code == 409 and "more than CHF 0" in text_of(bad.text)


def test_a_staff_account_cannot_change_prices(app_client, shop_settings):
    mug = variant_of(shop_settings, "MUG")
    sign_in(app_client, STAFF)
    assert 'name="price"' not in app_client.get("/admin/products").text
    assert post(app_client, f"/admin/products/{mug}/offer", price="1.00", on_sale="yes").status_code == 403
    assert query(shop_settings.database_url, "SELECT price FROM variant WHERE sku = 'MUG'") == [(22_00,)]


# --- catalogue files -------------------------------------------------------------------------------


def upload(client: TestClient[Any], data: bytes) -> Any:
    return client.post(
        "/admin/catalogue/check",
        data={"_csrf_token": csrf(client)},
        files={"file": ("catalogue.csv", data, "text/csv")},
        follow_redirects=False,
    )


def report_lines(html: str) -> list[str]:
    found = re.search(r'<ul class="report" data-testid="catalogue-report">(.*?)</ul>', html, re.S)
    assert found, "no report on the page"
    return [text_of(item) for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


GOOD = (
    b"product,name,sku,option,price,vat,stock\n"
    b"mug,,MUG,,23.00,standard,12\n"
    b"lantern,QA Lantern,LANTERN-1,small,25.00,standard,4\n"
)


def test_a_catalogue_file_is_checked_like_the_command_line_then_applied(app_client, shop_settings, tmp_path):
    sign_in(app_client)
    checked = upload(app_client, GOOD)
    assert checked.status_code == 200
    lines = report_lines(checked.text)
    assert query(shop_settings.database_url, "SELECT price FROM variant WHERE sku = 'MUG'") == [(22_00,)]  # dry run
    assert movements(shop_settings) == []
    path = tmp_path / "catalogue.csv"
    path.write_bytes(GOOD)
    command = subprocess.run(
        [sys.executable, "-m", "storefront", "catalog", "import", "--dry-run", str(path)],
        cwd=ROOT,
        env={**os.environ, "STOREFRONT_DATABASE_URL": shop_settings.database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    assert lines == [text_of(line) for line in command.stdout.splitlines()[:-1]]  # the last line: "dry run: …"
    assert "line 2: updated variant MUG (price CHF\u00a022.00 → CHF\u00a023.00)" in lines
    key = re.search(r'name="checked" value="([0-9a-f]{64})"', checked.text).group(1)
    applied = post(app_client, "/admin/catalogue/apply", checked=key)
    assert applied.status_code == 200 and "Applied" in applied.text
    assert query(shop_settings.database_url, "SELECT price FROM variant WHERE sku = 'MUG'") == [(23_00,)]
    assert movements(shop_settings) == [("LANTERN-1", 4, 4, "catalogue file", OWNER)]  # MUG's 12 stayed 12
    assert "QA Lantern" in app_client.get("/en/products/lantern").text  # on the shop at once
    assert post(app_client, "/admin/catalogue/apply", checked=key).status_code == 409  # applied once


def test_a_file_with_a_bad_row_lists_its_problems_and_changes_nothing(app_client, shop_settings):
    sign_in(app_client)
    refused = upload(app_client, GOOD + b"bad slug!,X,SKU-X,,1.00,standard,1\n")
    assert refused.status_code == 409
    assert "line 4" in text_of(refused.text) and "Apply this file" not in refused.text
    assert query(shop_settings.database_url, "SELECT count(*) FROM variant WHERE sku = 'LANTERN-1'") == [(0,)]
    assert upload(app_client, b"").status_code == 400


def test_the_downloaded_catalogue_comes_back_unchanged(app_client, shop_settings):
    sign_in(app_client)
    download = app_client.get("/admin/catalogue.csv")
    assert download.headers["content-disposition"].startswith('attachment; filename="catalogue-')
    body = download.content
    assert body.startswith(
        b"\xef\xbb\xbfproduct,product_de,product_fr,product_it,name,name_de,name_fr,name_it,description,description_de,"
    )
    lines = report_lines(upload(app_client, body).text)
    assert lines and all(" unchanged " in f" {line} " for line in lines), lines


def test_texts_in_other_languages_go_out_and_come_back_with_the_catalogue_file(app_client, shop_settings):
    sign_in(app_client)
    french = (
        b"product,product_fr,name,name_fr,sku,option,option_fr,price,vat,stock\n"
        b"mug,tasse,Enamel Mug,Tasse,MUG,,,22.00,standard,12\n"
    )
    checked = upload(app_client, french)
    key = re.search(r'name="checked" value="([0-9a-f]{64})"', checked.text).group(1)
    assert post(app_client, "/admin/catalogue/apply", checked=key).status_code == 200
    assert "<h1>Tasse</h1>" in app_client.get("/fr/products/tasse").text
    rows = list(csv.DictReader(io.StringIO(app_client.get("/admin/catalogue.csv").content.decode("utf-8-sig"))))
    mug = next(row for row in rows if row["sku"] == "MUG")
    assert (mug["product"], mug["product_fr"], mug["name_fr"], mug["name_it"]) == ("mug", "tasse", "Tasse", "")
    lines = report_lines(upload(app_client, app_client.get("/admin/catalogue.csv").content).text)
    assert lines and all(" unchanged " in f" {line} " for line in lines), lines


def test_a_staff_account_cannot_upload_a_catalogue(app_client):
    sign_in(app_client, STAFF)
    assert upload(app_client, GOOD).status_code == 403
    assert app_client.get("/admin/catalogue.csv").status_code == 403


# --- a product's form --------------------------------------------------------------------------------


def photo(size: tuple[int, int] = (1600, 1200)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (180, 140, 60)).save(out, "JPEG")
    return out.getvalue()


def submit_product(client: TestClient[Any], path: str, picture: bytes | None = None, **fields: str) -> Any:
    files = {"picture": ("photo.jpg", picture, "image/jpeg")} if picture is not None else None
    return client.post(path, data={"_csrf_token": csrf(client), **fields}, files=files, follow_redirects=False)


SYRUP = {
    "name": "Alpenkräuter Sirup",
    "slug": "",
    "description": "Syrup of mountain herbs.",
    "on_sale": "yes",
    "variant_rows": "3",
    "v0-option": "250 ml",
    "v0-sku": "SYRUP-250",
    "v0-price": "9.50",
    "v0-vat": "reduced",
    "v0-stock": "5",
    "v0-on_sale": "yes",
    "v1-option": "500 ml",
    "v1-sku": "SYRUP-500",
    "v1-price": "16.00",
    "v1-vat": "reduced",
    "v1-stock": "",
    "v1-on_sale": "yes",
    "picture_rows": "0",
    "picture_alt": "A bottle of green herb syrup",
}


def test_the_owner_creates_a_product_with_two_variants_and_a_picture_and_the_shop_shows_it_at_once(
    app_client, shop_settings
):
    sign_in(app_client)
    assert app_client.get("/en/").status_code == 200  # the catalogue is loaded and cached before the change
    created = submit_product(app_client, "/admin/products/new", photo(), **SYRUP)
    assert created.status_code == 303, text_of(created.text)
    product_id = int(re.fullmatch(r"/admin/products/(\d+)/edit\?done=product", created.headers["location"])[1])
    assert query(
        shop_settings.database_url,
        "SELECT p.slug, p.name, v.sku, v.label, v.price, v.vat_class, v.stock, v.position FROM variant v"
        " JOIN product p ON p.id = v.product_id WHERE p.id = :p ORDER BY v.position",
        p=product_id,
    ) == [
        ("alpenkraeuter-sirup", "Alpenkräuter Sirup", "SYRUP-250", "250 ml", 9_50, "reduced", 5, 0),
        ("alpenkraeuter-sirup", "Alpenkräuter Sirup", "SYRUP-500", "500 ml", 16_00, "reduced", 0, 1),
    ]
    assert movements(shop_settings) == [("SYRUP-250", 5, 5, "new variant", OWNER)]  # the first stock, kept
    [(path, alt)] = query(
        shop_settings.database_url, "SELECT path, alt FROM product_image WHERE product_id = :p", p=product_id
    )
    key = path.removeprefix("media/")
    assert alt == "A bottle of green herb syrup"
    assert sorted(p.name for p in Path(shop_settings.media_dir).iterdir()) == [
        f"{key}-1280.webp",
        f"{key}-320.webp",
        f"{key}-640.webp",
    ]

    page = app_client.get("/en/products/alpenkraeuter-sirup")
    assert page.status_code == 200
    assert (
        f'src="/media/{key}-640.webp" srcset="/media/{key}-1280.webp 2x" alt="A bottle of green herb syrup"'
        in page.text
    )
    assert "CHF\u00a09.50 incl. VAT" in text_of(page.text)  # the first option's price
    catalogue = app_client.get("/en/").text
    assert f'src="/media/{key}-320.webp"' in catalogue  # its card in the catalogue
    assert "from CHF\u00a09.50" in text_of(catalogue)
    served = app_client.get(f"/media/{key}-640.webp")
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    assert served.content == (Path(shop_settings.media_dir) / f"{key}-640.webp").read_bytes()
    assert "immutable" in served.headers["cache-control"] and "max-age=31536000" in served.headers["cache-control"]
    assert app_client.get("/media/..%2Fshop.sqlite").status_code == 404

    # Bought like any product.
    app_client.get("/en/products/alpenkraeuter-sirup")
    added = app_client.post(
        "/en/cart/lines",
        data={
            "_csrf_token": csrf(app_client),
            "variant_id": str(variant_of(shop_settings, "SYRUP-250")),
            "quantity": "2",
        },
        follow_redirects=False,
    )
    assert added.status_code in {200, 303}
    assert "Alpenkräuter Sirup" in text_of(app_client.get("/en/cart").text)


def test_the_downloaded_catalogue_names_an_uploaded_picture_and_comes_back_unchanged(app_client, shop_settings):
    sign_in(app_client)
    assert submit_product(app_client, "/admin/products/new", photo(), **SYRUP).status_code == 303
    body = app_client.get("/admin/catalogue.csv").content
    assert b",media/" in body
    lines = report_lines(upload(app_client, body).text)
    assert lines and all(" unchanged " in f" {line} " for line in lines), lines


def test_an_edit_is_seen_on_the_shop_at_once(app_client, shop_settings):
    mug = query(shop_settings.database_url, "SELECT product_id, id FROM variant WHERE sku = 'MUG'")[0]
    sign_in(app_client)
    assert "Enamel Mug" in app_client.get("/en/products/mug").text  # loaded and cached
    form = app_client.get(f"/admin/products/{mug[0]}/edit")
    assert form.status_code == 200 and 'value="MUG"' in form.text and "img/products/enamel-mug" in form.text
    edited = submit_product(
        app_client,
        f"/admin/products/{mug[0]}/edit",
        name="Enamel Mug Large",
        slug="mug",
        description="A bigger mug.",
        on_sale="yes",
        variant_rows="2",
        **{
            "v0-id": str(mug[1]),
            "v0-sku": "MUG",
            "v0-option": "350 ml",
            "v0-price": "24.00",
            "v0-vat": "standard",
            "v0-stock": "12",
            "v0-on_sale": "yes",
            "v1-sku": "MUG-500",
            "v1-option": "500 ml",
            "v1-price": "28.00",
            "v1-vat": "standard",
            "v1-stock": "3",
            "v1-on_sale": "yes",
            "picture_rows": "1",
            "p0-path": "img/products/enamel-mug.svg",
            "p0-alt": "A big white enamel mug",
        },
    )
    assert edited.status_code == 303, text_of(edited.text)
    page = text_of(app_client.get("/en/products/mug").text)
    assert "Enamel Mug Large" in page and "A bigger mug." in page and "500 ml" in page
    assert "CHF\u00a024.00 incl. VAT" in page and "500 ml CHF\u00a028.00" in page  # chosen: 350 ml; the other
    assert "from CHF\u00a024.00" in text_of(app_client.get("/en/").text)  # the card: the lowest price
    assert 'alt="A big white enamel mug"' in app_client.get("/en/products/mug").text
    assert stock(shop_settings, "MUG") == 12  # stock is changed in the stock list, not here
    assert query(shop_settings.database_url, "SELECT count(*) FROM product") == [(6,)]  # edited, not added


def test_a_form_with_problems_names_each_at_its_field_and_keeps_what_was_entered(app_client, shop_settings):
    sign_in(app_client)
    refused = submit_product(
        app_client,
        "/admin/products/new",
        photo(),
        **{**SYRUP, "name": "Syrup", "slug": "honey", "v0-price": "nine", "v1-sku": "HONEY-250", "v1-option": "250 ml"},
    )
    assert refused.status_code == 400
    page = refused.text
    assert (
        'id="v0-price" name="v0-price" value="nine"' in page
        and 'aria-invalid="true" aria-describedby="v0-price-error"' in page
    )
    assert "Enter the price in CHF, such as 24.90." in text_of(page)
    assert "Variant 1 has this option already." in text_of(page)
    assert query(shop_settings.database_url, "SELECT count(*) FROM product WHERE name = 'Syrup'") == [(0,)]
    # The picture is kept on the page, so the next try needs no new upload.
    kept = re.search(r'name="p0-path" value="(media/[0-9a-f]{20})"', page)
    assert kept, "the uploaded picture was lost"
    fixed = submit_product(
        app_client,
        "/admin/products/new",
        **{
            **SYRUP,
            "name": "Syrup",
            "slug": "honey",
            "v1-sku": "HONEY-250",
            "picture_rows": "1",
            "p0-path": kept[1],
            "p0-alt": "A bottle of syrup",
        },
    )
    assert fixed.status_code == 400  # what the shop has: the address and the SKU are taken
    assert "Another product has this address already." in text_of(fixed.text)
    assert "Another product has this SKU already." in text_of(fixed.text)
    saved = submit_product(
        app_client,
        "/admin/products/new",
        **{**SYRUP, "name": "Syrup", "slug": "syrup", "picture_rows": "1", "p0-path": kept[1], "p0-alt": "A bottle"},
    )
    assert saved.status_code == 303
    assert query(
        shop_settings.database_url,
        "SELECT path FROM product_image i JOIN product p ON p.id = i.product_id WHERE p.slug = 'syrup'",
    ) == [(kept[1],)]


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (b"name,price\nhoney,9.50\n", "The file is not a JPEG, PNG or WebP picture."),
        (None, "The picture is 320 × 240 pixels; it needs at least 640 × 480 to look sharp."),
        (b"\xff\xd8" + b"\0" * (10 * 1024 * 1024), "The picture is larger than 10 MB."),
    ],
    ids=["not-a-picture", "too-small", "too-large"],
)
def test_a_picture_is_refused_by_type_and_size_and_nothing_is_saved(app_client, shop_settings, picture, message):
    sign_in(app_client)
    refused = submit_product(app_client, "/admin/products/new", picture or photo((320, 240)), **SYRUP)
    assert refused.status_code == 400 and message in text_of(refused.text)
    assert 'value="Alpenkräuter Sirup"' in refused.text  # the rest of the form is kept
    assert query(shop_settings.database_url, "SELECT count(*) FROM variant WHERE sku LIKE 'SYRUP%'") == [(0,)]
    assert not list(Path(shop_settings.media_dir).glob("*.webp"))


def test_a_body_beyond_the_pictures_limit_is_refused_whole(app_client):
    sign_in(app_client)
    assert submit_product(app_client, "/admin/products/new", b"\0" * (11 * 1024 * 1024), **SYRUP).status_code == 413


def test_adding_a_variant_row_keeps_the_form_and_saves_nothing(app_client, shop_settings):
    sign_in(app_client)
    more = submit_product(app_client, "/admin/products/new", action="more", **SYRUP)
    assert more.status_code == 200
    assert 'name="variant_rows" value="4"' in more.text and 'value="SYRUP-500"' in more.text
    assert query(shop_settings.database_url, "SELECT count(*) FROM variant WHERE sku LIKE 'SYRUP%'") == [(0,)]


def test_a_product_saves_while_a_customer_buys_between_its_reads_and_its_writes(app_client, shop_settings):
    """Saving a product reads (is the address free, which variants exist) before it writes. On
    SQLite a checkout committed in between must not make the save fail with "database is locked":
    the save holds the write lock from its start, and the checkout waits for it instead."""
    sign_in(app_client)
    csrf(app_client)
    url = shop_settings.database_url
    interloper = write_meanwhile(
        app_client.app.state.shop_alchemy.get_engine(),
        url,
        "UPDATE variant SET stock = stock + 1 WHERE sku = 'HONEY-250'",
    )
    created = submit_product(app_client, "/admin/products/new", **SYRUP)

    assert created.status_code == 303, text_of(created.text)
    assert interloper == (["database is locked"] if url.startswith("sqlite") else ["wrote"])
    assert query(url, "SELECT sku, stock FROM variant WHERE sku LIKE 'SYRUP-%' ORDER BY sku") == [
        ("SYRUP-250", 5),
        ("SYRUP-500", 0),
    ]


def test_a_product_written_in_french_shows_in_french_and_keeps_its_texts_through_an_edit(app_client, shop_settings):
    """The test shop's own language is English; French is written in the form's French part."""
    sign_in(app_client)
    french = {
        "fr-name": "Sirop aux herbes des Alpes",
        "fr-slug": "",  # made from the French name
        "fr-description": "Sirop d'herbes de montagne.",
        "v0-option-fr": "250 ml",
        "v1-option-fr": "",  # left empty: the English option shows, marked
    }
    created = submit_product(app_client, "/admin/products/new", photo(), **SYRUP, **french)
    assert created.status_code == 303, text_of(created.text)
    page = app_client.get("/fr/products/sirop-aux-herbes-des-alpes").text
    assert "<h1>Sirop aux herbes des Alpes</h1>" in page
    assert '<span class="option-label" lang="en">500 ml</span>' in page
    assert '<h1 lang="en">Alpenkräuter Sirup</h1>' in app_client.get("/it/products/alpenkraeuter-sirup").text
    edit_path = created.headers["location"].split("?")[0]
    form_page = app_client.get(edit_path).text
    assert 'id="fr-name" name="fr-name" value="Sirop aux herbes des Alpes"' in form_page
    assert 'id="fr-slug" name="fr-slug" value="sirop-aux-herbes-des-alpes"' in form_page
    # Saving the form again (as shown, with the picture that is now stored) changes none of it.
    [(path,)] = query(shop_settings.database_url, "SELECT path FROM product_image WHERE path LIKE 'media/%'")
    again = {**SYRUP, **french, "fr-slug": "sirop-aux-herbes-des-alpes", "picture_rows": "1", "p0-path": path}
    again |= {"p0-alt": "A bottle of green herb syrup", "p0-alt-fr": "Une bouteille de sirop vert"}
    ids = query(shop_settings.database_url, "SELECT id FROM variant WHERE sku LIKE 'SYRUP-%' ORDER BY position")
    again |= {"v0-id": str(ids[0][0]), "v1-id": str(ids[1][0]), "slug": "alpenkraeuter-sirup"}
    assert submit_product(app_client, edit_path, **again).status_code == 303
    [(stored,)] = query(
        shop_settings.database_url, "SELECT translations FROM product WHERE slug = 'alpenkraeuter-sirup'"
    )
    assert (json.loads(stored) if isinstance(stored, str) else stored) == {
        "fr": {
            "name": "Sirop aux herbes des Alpes",
            "slug": "sirop-aux-herbes-des-alpes",
            "description": "Sirop d'herbes de montagne.",
        }
    }
    page = app_client.get("/fr/products/sirop-aux-herbes-des-alpes").text
    assert 'alt="Une bouteille de sirop vert" width="640"' in page


def test_an_address_in_another_language_may_not_be_another_products(app_client, shop_settings):
    sign_in(app_client)
    taken = submit_product(app_client, "/admin/products/new", photo(), **SYRUP, **{"fr-name": "Bol", "fr-slug": "mug"})
    assert taken.status_code == 400
    assert 'id="fr-slug-error"' in taken.text and "Another product has this address already." in taken.text
    assert '<details class="language-texts" lang="fr" open>' in taken.text  # opened where the problem is


def test_a_staff_account_cannot_create_or_edit_products(app_client, shop_settings):
    sign_in(app_client, STAFF)
    assert app_client.get("/admin/products/new").status_code == 403
    assert submit_product(app_client, "/admin/products/new", **SYRUP).status_code == 403
    assert "/edit" not in app_client.get("/admin/products").text
    assert app_client.get("/admin/products/999999/edit").status_code == 403
    sign_in(app_client)
    assert app_client.get("/admin/products/999999/edit").status_code == 404
