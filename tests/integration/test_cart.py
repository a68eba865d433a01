"""The cart in both modes: htmx (only what changed, badge out of band) and plain forms (303)."""

import pytest
from litestar.testing import TestClient

from storefront.app import create_app
from tests.support.db import cart_lines, execute, variant_id
from tests.support.http import HTMX, csrf, form, text_of
from tests.support.logs import errors_in


def add(client, settings, sku, quantity="1", headers=None, **extra):
    data = form(client, variant_id=str(variant_id(settings, sku)), quantity=quantity, **extra)
    return client.post(
        "/en/cart/lines", data=data, headers={"Accept-Language": "en", **(headers or {})}, follow_redirects=False
    )


def test_plain_add_answers_303_to_the_cart_and_sets_a_safe_cookie(client, settings):
    response = add(client, settings, "HONEY-250", "2")
    assert response.status_code == 303
    assert response.headers["location"] == "/en/cart"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("cart="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    assert len(client.cookies["cart"]) >= 40
    assert cart_lines(settings) == [("HONEY-250", 2)]
    page = text_of(client.get("/en/cart", headers={"Accept-Language": "en"}).text)
    assert "Alpine Honey 250 g CHF\xa09.50" in page
    assert "Subtotal CHF\xa019.00" in page
    assert "incl. 2.6\xa0% VAT on CHF\xa019.00 CHF\xa00.48" in page


def test_htmx_add_swaps_the_form_and_updates_the_badge_out_of_band(client, settings):
    response = add(client, settings, "SOCKS-39", "2", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "<header" not in response.text
    assert response.text.lstrip().startswith('<form id="add-to-cart"')
    assert "Added to your cart." in response.text
    assert 'id="cart-link"' in response.text
    assert 'hx-swap-oob="true"' in response.text
    assert '<span class="badge" data-testid="cart-count">2</span>' in response.text
    assert cart_lines(settings) == [("SOCKS-39", 2)]


def test_adding_again_adds_to_the_line(client, settings):
    add(client, settings, "MUG", "2")
    add(client, settings, "MUG", "3", headers=HTMX)
    assert cart_lines(settings) == [("MUG", 5)]


def test_vat_is_shown_per_rate_for_a_mixed_cart(client, settings):
    add(client, settings, "HONEY-500", "1")  # 16.90 reduced
    add(client, settings, "MUG", "2")  # 44.00 standard
    add(client, settings, "HUT", "1")  # 140.00 accommodation
    page = text_of(client.get("/en/cart", headers={"Accept-Language": "en"}).text)
    assert "Subtotal CHF\xa0200.90" in page
    assert "incl. 8.1\xa0% VAT on CHF\xa044.00 CHF\xa03.30" in page  # 329.70 Rappen
    assert "incl. 3.8\xa0% VAT on CHF\xa0140.00 CHF\xa05.13" in page  # 512.52
    assert "incl. 2.6\xa0% VAT on CHF\xa016.90 CHF\xa00.43" in page  # 42.83


def test_change_quantity_with_htmx_returns_the_cart_block_and_badge(client, settings):
    add(client, settings, "MUG", "1")
    mug = variant_id(settings, "MUG")
    response = client.post(f"/en/cart/lines/{mug}", data=form(client, quantity="4"), headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="cart"')
    assert "CHF\xa088.00" in response.text
    assert '<span class="badge" data-testid="cart-count">4</span>' in response.text
    assert cart_lines(settings) == [("MUG", 4)]


def test_change_quantity_without_javascript_redirects_to_the_cart(client, settings):
    add(client, settings, "MUG", "1")
    response = client.post(
        f"/en/cart/lines/{variant_id(settings, 'MUG')}", data=form(client, quantity="3"), follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/en/cart")
    assert cart_lines(settings) == [("MUG", 3)]


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
def test_remove_a_line(client, settings, headers):
    add(client, settings, "MUG", "1")
    add(client, settings, "HONEY-250", "1")
    response = client.post(
        f"/en/cart/lines/{variant_id(settings, 'MUG')}/delete",
        data=form(client),
        headers=headers,
        follow_redirects=False,
    )
    assert response.status_code == (200 if headers else 303)
    assert cart_lines(settings) == [("HONEY-250", 1)]
    if headers:
        assert '<span class="badge" data-testid="cart-count">1</span>' in response.text


def test_removing_the_last_line_shows_an_empty_cart(client, settings):
    add(client, settings, "MUG", "1")
    response = client.post(f"/en/cart/lines/{variant_id(settings, 'MUG')}/delete", data=form(client), headers=HTMX)
    assert 'data-testid="cart-empty"' in response.text
    assert '<span class="badge" data-testid="cart-count">0</span>' in response.text


BAD_QUANTITIES = [
    ("0", 400, "The quantity must be at least 1."),
    ("-1", 400, "The quantity must be at least 1."),
    ("1.5", 400, "The quantity must be a whole number."),
    ("abc", 400, "The quantity must be a whole number."),
    ("1e9", 400, "The quantity must be a whole number."),
    ("", 400, "Please enter a quantity."),
    ("100", 400, "At most 99 per item, please."),
    ("1000000000000", 400, "At most 99 per item, please."),
    ("9" * 5000, 400, "At most 99 per item, please."),
    ("4", 409, "Only 3 left in stock."),
]


@pytest.mark.parametrize(("quantity", "status", "message"), BAD_QUANTITIES)
@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
def test_a_bad_quantity_on_add_is_explained_and_changes_nothing(
    client, settings, server_errors, headers, quantity, status, message
):
    add(client, settings, "HONEY-250", "1")
    response = add(client, settings, "HONEY-500", quantity, headers=headers)
    assert response.status_code == status
    assert message in response.text
    assert ("<html" in response.text) is not bool(headers)  # the partial for htmx, the page otherwise
    assert 'aria-invalid="true"' in response.text
    assert cart_lines(settings) == [("HONEY-250", 1)]
    assert errors_in(server_errors) == []


@pytest.mark.parametrize(("quantity", "status", "message"), BAD_QUANTITIES)
def test_a_bad_quantity_on_change_is_shown_at_its_line(client, settings, quantity, status, message):
    add(client, settings, "HONEY-500", "1")
    response = client.post(
        f"/en/cart/lines/{variant_id(settings, 'HONEY-500')}",
        data=form(client, quantity=quantity),
        headers={**HTMX, "Accept-Language": "en"},
    )
    assert response.status_code == status
    assert message in response.text
    assert f'id="line-error-{variant_id(settings, "HONEY-500")}"' in response.text
    assert cart_lines(settings) == [("HONEY-500", 1)]


def test_more_than_stock_across_two_adds_is_refused(client, settings):
    add(client, settings, "HONEY-500", "2")
    response = add(client, settings, "HONEY-500", "2", headers=HTMX)
    assert response.status_code == 409
    assert "Only 3 left in stock." in response.text
    assert cart_lines(settings) == [("HONEY-500", 2)]


@pytest.mark.parametrize(
    ("sku", "status", "message"),
    [
        ("BELL", 409, "Sorry, this item is sold out."),
        ("SOCKS-OLD", 404, "This item is not available."),
        ("HIDDEN-1", 404, "This item is not available."),
    ],
)
def test_sold_out_inactive_and_hidden_variants_cannot_be_added(client, settings, sku, status, message):
    response = add(client, settings, sku, "1", headers=HTMX)
    assert response.status_code == status
    assert message in response.text
    assert cart_lines(settings) == []


@pytest.mark.parametrize("raw", ["999999", "abc", "", "-5"])
def test_an_unknown_variant_is_refused(client, settings, raw):
    response = client.post(
        "/en/cart/lines", data=form(client, variant_id=raw, quantity="1"), headers={**HTMX, "Accept-Language": "en"}
    )
    assert response.status_code in {400, 404}
    assert "not available" in response.text or "Please choose an option." in response.text
    assert cart_lines(settings) == []


def test_a_field_sent_twice_is_refused(client, settings):
    honey = str(variant_id(settings, "HONEY-250"))
    body = f"_csrf_token={csrf(client)}&variant_id={honey}&quantity=1&quantity=50"
    response = client.post(
        "/en/cart/lines",
        content=body,
        headers={**HTMX, "Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "en"},
    )
    assert response.status_code == 400
    assert "a field twice" in response.text
    assert cart_lines(settings) == []


def test_a_price_or_total_sent_by_the_browser_is_ignored(client, settings):
    add(client, settings, "MUG", "1", price="0.01", total="0.01")
    assert "Subtotal CHF\xa022.00" in text_of(client.get("/en/cart", headers={"Accept-Language": "en"}).text)


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
@pytest.mark.parametrize(
    "token",
    [None, "forged", "a" * 64 + "é" * 64, "€" * 80],  # beyond ASCII after a token's 64 characters, or all
    ids=["none", "forged", "non-ascii-tail", "non-ascii"],
)
def test_without_the_csrf_token_nothing_changes(client, settings, server_errors, headers, token):
    csrf(client)
    data = {"variant_id": str(variant_id(settings, "MUG")), "quantity": "1"}
    if token:
        data["_csrf_token"] = token
    response = client.post("/en/cart/lines", data=data, headers={**headers, "Accept-Language": "en"})
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert response.headers["content-type"].startswith("text/html")
    if headers:
        assert response.headers["hx-retarget"] == "#notice"
        assert "<html" not in response.text
    assert cart_lines(settings) == []
    assert errors_in(server_errors) == []


def test_an_oversized_body_is_refused(client, settings):
    response = client.post(
        "/en/cart/lines",
        data=form(client, variant_id="1", quantity="1", padding="x" * 70_000),
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 413
    assert "too large" in response.text
    assert cart_lines(settings) == []


def test_the_cart_survives_a_restart_of_the_shop(settings):
    with TestClient(app=create_app(settings)) as first:
        add(first, settings, "MUG", "2")
        token = first.cookies["cart"]
    with TestClient(app=create_app(settings)) as second:
        second.cookies.set("cart", token)
        assert '<span class="badge" data-testid="cart-count">2</span>' in second.get("/en/").text


def test_another_visitor_does_not_see_the_cart(client, settings):
    add(client, settings, "MUG", "2")
    with TestClient(app=create_app(settings)) as stranger:
        stranger.cookies.set("cart", "guessed-token")
        assert '<span class="badge" data-testid="cart-count">0</span>' in stranger.get("/en/cart").text


def test_a_line_whose_stock_fell_is_flagged_in_the_cart(client, settings):
    add(client, settings, "SOCKS-39", "4")
    execute(settings.database_url, "UPDATE variant SET stock = 2 WHERE sku = 'SOCKS-39'")
    page = text_of(client.get("/en/cart", headers={"Accept-Language": "en"}).text)
    assert "Only 2 left. Please lower the quantity." in page


def test_cookies_are_secure_when_configured(settings):
    secure = settings.__class__(**{**{f: getattr(settings, f) for f in settings.__slots__}, "secure_cookies": True})
    with TestClient(app=create_app(secure), base_url="https://testserver.local") as client:
        response = add(client, secure, "MUG", "1")
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("cart="))
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "Secure" in client.get("/en/").headers.get("set-cookie", "Secure")
