"""A customer fills the cart: with htmx (no page loads) and without JavaScript."""

import re

from playwright.sync_api import Page, expect

from e2e.pages import CartPage, CatalogPage, CheckoutPage, ProductPage


def test_choose_a_variant_add_it_and_the_badge_changes_without_a_page_load(page: Page):
    """A size chosen, two added: the badge counts them without a page load."""
    product = CatalogPage(page).open().open_product("Wool Hiking Socks")
    expect(product.cart_count).to_have_text("0")
    page.evaluate("window.stillTheSamePage = true")
    product.choose("39–42").set_quantity(2).add_to_cart()
    expect(product.cart_count).to_have_text("2")
    expect(product.message).to_contain_text("Added to your cart.")
    assert page.evaluate("window.stillTheSamePage") is True  # swapped by htmx, not reloaded
    cart = product.open_cart()
    expect(cart.line("SOCKS-39")).to_contain_text("39–42")
    expect(cart.subtotal).to_have_text("CHF\u00a049.80")


def test_asking_for_more_than_in_stock_says_so_and_keeps_the_cart(page: Page):
    """Three socks of a size with two left: told so beside the field, nothing added."""
    product = ProductPage(page).open("hiking-socks").choose("39–42").set_quantity(3).add_to_cart()
    expect(product.message).to_have_text("Only 2 left in stock.")
    expect(product.cart_count).to_have_text("0")
    expect(page.get_by_label("Quantity", exact=True)).to_have_attribute("aria-invalid", "true")


def test_change_and_remove_lines_in_place(page: Page):
    """Quantities changed and lines removed in place; the subtotal and badge follow."""
    ProductPage(page).open("enamel-mug").add_to_cart()
    product = ProductPage(page).open("alpine-honey").choose("500 g").add_to_cart()
    expect(product.cart_count).to_have_text("2")
    cart = CartPage(page).open()
    page.evaluate("window.stillTheSamePage = true")
    cart.change_quantity("MUG-350", 3)
    expect(cart.cart_count).to_have_text("4")
    expect(cart.subtotal).to_have_text("CHF\u00a082.90")  # 3 × 22.00 + 16.90
    cart.remove("MUG-350")
    expect(cart.line("MUG-350")).to_have_count(0)
    expect(cart.cart_count).to_have_text("1")
    cart.remove("HONEY-500")
    expect(cart.empty_message).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True


def test_the_cart_works_without_javascript(new_context):
    """Add, change and remove with JavaScript off: plain forms and full pages do it all."""
    page = new_context(java_script_enabled=False).new_page()
    ProductPage(page).open("pine-cutting-board").choose("Large (45 cm)").add_to_cart()
    expect(page).to_have_url(re.compile(r"/cart$"))
    cart = CartPage(page)
    expect(cart.line("BOARD-L")).to_be_visible()
    cart.change_quantity("BOARD-L", 2)
    expect(cart.subtotal).to_have_text("CHF\u00a0138.00")
    expect(cart.cart_count).to_have_text("2")
    cart.change_quantity("BOARD-L", 0)  # the browser's own check refuses 0 before sending
    expect(cart.subtotal).to_have_text("CHF\u00a0138.00")
    cart.remove("BOARD-L")
    expect(cart.empty_message).to_be_visible()


def test_a_cart_above_chf_5000_is_not_offered_twint(page: Page, new_product, address):
    """TWINT takes at most CHF 5'000: above that the cart explains why instead of offering checkout."""
    slug = new_product(name="Alpine Sculpture", price="2600.00", stock=5)
    ProductPage(page).open(slug).set_quantity(2).add_to_cart()
    cart = CartPage(page).open()
    expect(cart.subtotal).to_have_text("CHF\u00a05'200.00")
    expect(cart.twint_limit).to_have_text(
        "TWINT accepts payments up to CHF 5'000. Please split your order into smaller ones."
    )
    expect(cart.checkout_button).to_have_count(0)
    checkout = CheckoutPage(page).open().fill(address)  # typed in by hand: the order is refused all the same
    checkout.continue_to_review()
    expect(checkout.error).to_contain_text("TWINT accepts payments up to CHF 5'000.")
    cart.open().change_quantity(slug.upper(), 1)
    expect(cart.twint_limit).to_have_count(0)
    expect(cart.checkout_button).to_be_visible()


def test_the_shop_speaks_german_after_switching(page: Page):
    """Switch to Deutsch: headings, buttons and messages in German, and it stays so."""
    catalog = CatalogPage(page).open()
    catalog.switch_language("Deutsch")
    expect(page.get_by_role("heading", level=1)).to_have_text("Unser Sortiment")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    product = catalog.open_product("Merino-Mütze")  # the catalogue in German too
    expect(page.get_by_test_id("add-to-cart")).to_have_text("In den Warenkorb")
    product.choose("Rot").page.get_by_label("Menge", exact=True).fill("1")
    product.add_to_cart()
    expect(product.message).to_contain_text("Zum Warenkorb hinzugefügt.")
    assert "/de/products/" in page.url  # the address names the language
    page.reload()
    expect(page.get_by_role("link", name="Deutsch")).to_have_attribute("aria-current", "true")
    page.goto("/")  # the root remembers the choice
    expect(page).to_have_url(re.compile(r"/de/$"))
