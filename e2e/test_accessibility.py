"""axe-core on the shop's pages: no serious or critical violation."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from e2e.pages import ProductPage

AXE = Axe()


def serious_violations(page: Page) -> list[str]:
    results = AXE.run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize(
    "path", ["/", "/?page=2", "/products/hiking-socks", "/products/cowbell-keyring", "/cart", "/no-such-page"]
)
def test_pages_have_no_serious_accessibility_violations(page: Page, path: str):
    page.goto(path)
    assert serious_violations(page) == []


def test_a_filled_cart_and_an_error_message_have_no_serious_violations(page: Page):
    ProductPage(page).open("alpine-honey").choose("500 g").add_to_cart()
    product = ProductPage(page).open("hiking-socks").choose("39–42").set_quantity(5).add_to_cart()
    product.message.wait_for()
    assert serious_violations(page) == []
    page.goto("/cart")
    assert serious_violations(page) == []


def test_add_to_cart_by_keyboard_alone(page: Page):
    ProductPage(page).open("enamel-mug")
    page.get_by_label("Quantity", exact=True).focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    ProductPage(page).message.filter(has_text="Added to your cart.").wait_for()
    assert page.get_by_test_id("cart-count").inner_text() == "1"
