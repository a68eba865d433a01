"""The checkout form and the return from TWINT, through HTTP (no Stripe needed for these)."""

import re

import pytest

from storefront.money import NBSP
from storefront.payments.gateway import StripeGateway
from tests.support.db import cart_lines, count, execute, query, variant_id
from tests.support.factories import apply, fill_cart, intent, paid_order, place, record, waiting_order
from tests.support.http import form, text_of

ADDRESS = {
    "email": "anna@example.ch",
    "name": "Anna Muster",
    "street": "Bahnhofstrasse 1",
    "postal_code": "8001",
    "city": "Zürich",
    "country": "CH",
    "shipping": "b_post",
}


def add_mug(client, settings):
    client.post("/en/cart/lines", data=form(client, variant_id=str(variant_id(settings, "MUG")), quantity="1"))


def test_the_form_asks_for_each_field_with_a_label_and_autocomplete(client, settings):
    add_mug(client, settings)
    page = client.get("/en/checkout", headers={"Accept-Language": "en"}).text
    for name, token in [
        ("email", "email"),
        ("name", "name"),
        ("phone", "tel"),
        ("street", "address-line1"),  # an <input> is one line; "street-address" is for a textarea
        ("postal_code", "postal-code"),
        ("city", "address-level2"),
        ("country", "country"),
    ]:
        assert f'<label for="{name}">' in page
        assert re.search(rf'<(input|select) id="{name}"[^>]*\sautocomplete="{token}"', page), name
    assert "Swiss Post B-Post" in page


def test_an_empty_cart_goes_back_to_the_cart(client):
    assert client.get("/en/checkout", follow_redirects=False).headers["location"] == "/en/cart"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"postal_code": "80"}, "postal_code", "4-digit postcode"),
        ({"email": "anna"}, "email", "e-mail address"),
        ({"country": "DE"}, "country", "Switzerland and Liechtenstein"),
        ({"country": "LI", "postal_code": "8001"}, "postal_code", "9485 to 9498"),
        ({"phone": "call me"}, "phone", "phone number"),
        ({"shipping": "drone"}, "shipping", "how you want"),
    ],
)
def test_a_bad_field_is_explained_next_to_it_and_the_input_kept(client, settings, change, field, message):
    add_mug(client, settings)
    response = client.post(
        "/en/checkout", data=form(client, **{**ADDRESS, **change}), headers={"Accept-Language": "en"}
    )
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert message in response.text
    assert 'value="Bahnhofstrasse 1"' in response.text


def test_a_refused_form_lists_its_problems_top_to_bottom_linked_to_the_fields_and_focuses_the_first(client, settings):
    add_mug(client, settings)
    wrong = {**ADDRESS, "email": "anna", "country": "DE", "postal_code": "80", "shipping": "drone"}
    page = client.post("/en/checkout", data=form(client, **wrong), headers={"Accept-Language": "en"}).text
    summary = page[page.index('class="error-summary"') : page.index("</section>")]
    assert re.findall(r'<a href="#([a-z_-]+)">', summary) == ["email", "shipping-a_post", "postal_code", "country"]
    assert re.findall(r'<(?:input|select)[^>]*\sid="([a-z_-]+)"[^>]*\sautofocus', page) == ["email"]
    only_shipping = {**ADDRESS, "shipping": "drone"}
    page = client.post("/en/checkout", data=form(client, **only_shipping), headers={"Accept-Language": "en"}).text
    assert re.findall(r'<(?:input|select)[^>]*\sid="([a-z_-]+)"[^>]*\sautofocus', page) == ["shipping-a_post"]


def test_an_order_placed_in_french_keeps_its_language_to_the_payment_and_back(client, settings):
    add_mug(client, settings)
    placed = client.post("/fr/checkout", data=form(client, **ADDRESS), follow_redirects=False)
    assert placed.status_code == 303
    assert re.fullmatch(r"/fr/orders/[A-Za-z0-9_-]+/pay", placed.headers["location"])
    assert query(settings.database_url, "SELECT language FROM shop_order") == [("fr",)]
    order = place(settings, fill_cart(settings, ("MUG", 1)))
    record(settings, order, intent(order, "pending", id="pi_fr_1", client_secret="pi_fr_1_secret_ok"))
    back = client.get(
        "/fr/checkout/return",
        params={"payment_intent": "pi_fr_1", "payment_intent_client_secret": "pi_fr_1_secret_ok"},
        follow_redirects=False,
    )
    assert back.headers["location"] == f"/fr/orders/{order.public_token}"


def test_sold_out_lines_are_named_and_nothing_is_ordered(client, settings):
    add_mug(client, settings)
    execute(settings.database_url, "UPDATE variant SET stock = 0 WHERE sku = 'MUG'")
    response = client.post("/en/checkout", data=form(client, **ADDRESS), headers={"Accept-Language": "en"})
    assert response.status_code == 409
    assert "not enough left of: Enamel Mug. Please change your cart." in text_of(response.text)
    assert query(settings.database_url, "SELECT count(*) FROM shop_order")[0][0] == 0
    assert cart_lines(settings) == [("MUG", 1)]


def test_the_return_needs_the_intent_and_its_secret_and_leads_to_a_clean_address(client, settings):
    order = place(settings, fill_cart(settings, ("MUG", 1)))
    record(settings, order, intent(order, "pending", id="pi_ret_1", client_secret="pi_ret_1_secret_good"))
    ok = client.get(
        "/en/checkout/return",
        params={
            "payment_intent": "pi_ret_1",
            "payment_intent_client_secret": "pi_ret_1_secret_good",
            "redirect_status": "succeeded",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == f"/en/orders/{order.public_token}"
    assert "secret" not in ok.headers["location"]
    assert ok.headers["referrer-policy"] == "no-referrer"
    for params in (
        {"payment_intent": "pi_ret_1", "payment_intent_client_secret": "pi_ret_1_secret_bad"},
        {"payment_intent": "pi_other", "payment_intent_client_secret": "pi_ret_1_secret_good"},
        {},
    ):
        wrong = client.get("/en/checkout/return", params=params, headers={"Accept-Language": "en"})
        assert wrong.status_code == 404
        assert "Anna" not in wrong.text and order.number not in wrong.text


def test_an_order_page_needs_its_unguessable_token(client, settings):
    order = waiting_order(settings, ("MUG", 1))
    assert client.get(f"/en/orders/{order.public_token[:-1]}x").status_code == 404
    page = client.get(f"/en/orders/{order.public_token}", headers={"Accept-Language": "en"})
    assert page.headers["cache-control"] == "no-store"
    assert 'hx-trigger="load delay:1s"' in page.text and 'hx-swap="outerHTML"' in page.text


def test_the_pay_form_of_a_paid_order_leads_to_the_order_not_to_twint(client, settings):
    """Pressed again after paying (a second tab, a back button): the order page, and no new attempt."""
    order = paid_order(settings, ("MUG", 1))
    page = client.get(f"/en/orders/{order.public_token}")  # a page of the shop: the form's token comes with it
    assert page.status_code == 200
    again = client.post(f"/en/orders/{order.public_token}/pay", data=form(client), follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, f"/en/orders/{order.public_token}")


def test_pick_up_asks_for_no_address_and_the_order_says_where_to_collect_it(client, settings):
    add_mug(client, settings)
    form_page = client.get("/en/checkout").text
    assert form_page.index('name="shipping"') < form_page.index('id="street"')  # chosen before the address
    no_address = {"email": "anna@example.ch", "name": "Anna Muster", "shipping": "pickup"}
    placed = client.post("/en/checkout", data=form(client, **no_address), follow_redirects=False)
    assert placed.status_code == 303, text_of(placed.text)
    assert query(settings.database_url, "SELECT street, postal_code, city, shipping_price FROM shop_order") == [
        ("", "", "", 0)
    ]
    token = placed.headers["location"].split("/")[3]
    execute(settings.database_url, "UPDATE shop_order SET status = 'paid'")
    page = text_of(client.get(f"/en/orders/{token}").text)
    assert "Pick-up in our shop " + settings.company_address in page
    assert "Delivery: Pick-up in our shop free" in page
    assert "Delivery to" not in page


def test_an_order_page_shows_each_line_price_the_delivery_by_name_and_the_country_by_name(client, settings):
    order = paid_order(settings, ("MUG", 2))
    page = text_of(client.get(f"/en/orders/{order.public_token}").text)
    assert f"Enamel Mug 2 × CHF{NBSP}22.00 CHF{NBSP}44.00" in page  # quantity × unit price, then the line total
    assert f"Delivery: Swiss Post B-Post (2-3 working days) CHF{NBSP}7.00" in page
    assert "8001 Zürich Switzerland" in page
    assert "A confirmation is on its way to anna@example.ch." in page and "Continue shopping" in page


def test_a_failed_payment_takes_the_steps_back_to_paying(client, settings):
    order = waiting_order(settings, ("MUG", 1))
    apply(settings, intent(order, "failed"))
    page = client.get(f"/en/orders/{order.public_token}").text
    assert re.search(r'<li aria-current="step">Review and pay</li>', page)
    assert 'aria-current="step">Confirmation' not in page


def test_a_fourth_unpaid_order_from_one_connection_is_refused_with_a_reason(client, settings):
    for number in range(4):
        client.cookies.clear()  # a new cart each time, as a script would
        add_mug(client, settings)
        response = client.post(
            "/en/checkout", data=form(client, **ADDRESS), headers={"Accept-Language": "en"}, follow_redirects=False
        )
        assert response.status_code == (303 if number < 3 else 409)
    assert "There are already several unpaid orders from your connection" in text_of(response.text)
    assert count(settings, "shop_order") == 3


def _badge(html: str) -> str | None:
    found = re.search(r'data-testid="cart-count">(\d+)<', html)
    return found[1] if found else None


def test_the_status_poll_answers_the_order_and_the_visitors_own_cart(client, settings):
    """The order and the visitor's cart are read together: the poll of a paid order says so, and
    its header badge counts what the visitor has put in a new cart since."""
    order = paid_order(settings, ("MUG", 1))
    client.cookies.set("cart", fill_cart(settings, ("HONEY-250", 2), ("SOCKS-39", 1)))
    poll = client.get(f"/en/orders/{order.public_token}/status", headers={"HX-Request": "true"})
    assert poll.status_code == 200
    assert "Paid. Thank you!" in poll.text
    assert _badge(poll.text) == "3"
    page = client.get(f"/en/orders/{order.public_token}", headers={"Accept-Language": "en"})
    assert "Enamel Mug" in page.text
    assert _badge(page.text) == "3"
    guessed = client.get(f"/en/orders/{order.public_token[:-1]}x/status", headers={"HX-Request": "true"})
    assert guessed.status_code == 404


def test_a_poll_that_learns_of_the_payment_shows_the_cart_it_emptied(client, settings, monkeypatch):
    """No webhook yet: the poll asks Stripe, marks the order paid, which empties the cart it came
    from, and the same answer's badge shows that cart empty."""
    token = fill_cart(settings, ("MUG", 2))
    order = place(settings, token)
    record(settings, order, intent(order, "pending"))

    async def succeeded(_gateway, _intent_id):
        return intent(order, "succeeded")

    monkeypatch.setattr(StripeGateway, "retrieve_intent", succeeded)
    client.cookies.set("cart", token)
    poll = client.get(f"/en/orders/{order.public_token}/status", headers={"HX-Request": "true"})
    assert "Paid. Thank you!" in poll.text
    assert cart_lines(settings) == []
    assert _badge(poll.text) == "0"
