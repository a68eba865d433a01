"""The shop in French and Italian, as a customer on a phone reads it: the catalogue, the cart, the
checkout and the order in the language of the address, with amounts as the locale writes them; the
language switch keeping the page; an address from before the language was in it."""

import re
from email import message_from_bytes, policy

import pytest
from playwright.sync_api import Page, expect

from e2e.pages import OrderPage, ReviewPage, TwintPage
from storefront.i18n import translations
from storefront.money import NBSP

PHONE = {"width": 390, "height": 844}


def fill_address(page: Page, address) -> None:
    """The checkout's fields by their ids, whatever the language of their labels."""
    for field in ("email", "name", "street", "postal_code", "city"):
        page.locator(f"#{field}").fill(getattr(address, field))


def _(language: str, text: str) -> str:
    """The shop's text in `language`, from its own catalogues."""
    return translations(language).gettext(text)


@pytest.mark.parametrize(
    ("language", "slug", "name", "total", "vat"),
    [
        # Tasse 22.00 + B-Post 7.00; French writes the amount before CHF.
        ("fr", "tasse-en-email", "Tasse en émail à motif montagne", f"29.00{NBSP}CHF", "8.1"),
        # Chocolate 2 × 6.90 + B-Post 7.00; Italian writes CHF first.
        ("it", "cioccolato-fondente", "Cioccolato fondente 72 %", f"CHF{NBSP}20.80", "2.6"),
    ],
)
def test_buy_on_a_phone_in_french_and_in_italian(page: Page, address, records, language, slug, name, total, vat):
    """From the product to "paid", every page in the address's language: names, buttons, totals,
    VAT lines and CHF amounts as the locale writes them; the order and its e-mail keep the language."""
    page.set_viewport_size(PHONE)
    page.goto(f"/{language}/products/{slug}")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_role("heading", level=1)).not_to_have_attribute("lang", re.compile("."))  # written in it
    if language == "it":
        page.get_by_label(_(language, "Quantity"), exact=True).fill("2")
    page.get_by_test_id("add-to-cart").click()
    expect(page.get_by_test_id("cart-count")).to_have_text("2" if language == "it" else "1")
    page.get_by_test_id("cart-link").click()
    expect(page).to_have_url(re.compile(rf"/{language}/cart$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(_(language, "Your cart"))
    page.get_by_role("link", name=_(language, "Checkout")).click()
    expect(page).to_have_url(re.compile(rf"/{language}/checkout$"))
    fill_address(page, address)
    page.locator("input[name=shipping][value=b_post]").check()
    page.get_by_test_id("to-review").click()
    review = ReviewPage(page)
    expect(page).to_have_url(re.compile(rf"/{language}/orders/[\w-]+/pay$"))
    expect(review.total).to_have_text(total)
    expect(review.vat_lines.filter(has_text=f"{vat}{NBSP}%").filter(has_text=_(language, "VAT"))).not_to_have_count(0)
    expect(review.lines).to_contain_text(name)
    review.pay_button.click()
    order = TwintPage(page).wait().authorize()
    expect(page).to_have_url(re.compile(rf"/{language}/orders/[\w-]+$"))  # back in the order's language
    expect(order.status).to_contain_text(_(language, "Paid. Thank you!"))
    if records:
        number = OrderPage(page).number
        assert records.emails(number) == ["order_paid"]
        mail = message_from_bytes(records.sent_email(number).encode(), policy=policy.default)
        body = mail.get_content()
        assert name in body  # the line as the customer saw it
        assert f"{_(language, 'Total')}: {total}" in body


def test_the_language_switch_leads_to_the_same_product_in_the_other_language(page: Page):
    page.goto("/de/products/emailtasse")
    expect(page.get_by_role("heading", level=1)).to_have_text("Emailtasse mit Bergmotiv")
    page.get_by_role("link", name="Français", exact=True).click()
    expect(page).to_have_url(re.compile(r"/fr/products/tasse-en-email$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Tasse en émail à motif montagne")
    page.get_by_role("link", name="Italiano", exact=True).click()
    expect(page).to_have_url(re.compile(r"/it/products/tazza-smaltata$"))
    page.goto("/")  # the root remembers the last language
    expect(page).to_have_url(re.compile(r"/it/$"))


def test_an_old_address_leads_to_the_page_in_the_browsers_language(browser, browser_context_args):
    page = browser.new_context(**{**browser_context_args, "locale": "it-CH"}).new_page()
    page.goto("/products/enamel-mug")  # a link shared before the language was in the address
    expect(page).to_have_url(re.compile(r"/it/products/tazza-smaltata$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Tazza smaltata con motivo di montagna")


def test_on_a_phone_the_price_follows_the_option_and_add_to_cart_is_in_the_first_screen(page: Page):
    page.set_viewport_size(PHONE)
    page.goto("/fr/products/miel-de-fleurs-des-alpes")
    price = page.get_by_test_id("product-price")
    expect(price).to_have_text(f"9.50{NBSP}CHF")
    page.get_by_role("radio", name="500 g").check()
    expect(price).to_have_text(f"16.90{NBSP}CHF")  # the chosen option's price
    box = page.get_by_test_id("add-to-cart").bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box  # no scrolling to reach it


def _english_left_in(page: Page, language: str) -> list[str]:
    """Interface texts of the shop still in English on a page in `language`: a whole line of the
    page that is an English message the language translates differently, or a longer message
    (without its placeholders) anywhere in the page's text."""
    text = page.locator("body").inner_text()
    lines = {line.strip() for line in text.splitlines() if line.strip()}
    found = []
    for message in ENGLISH[language]:
        plain = re.sub(r"%\([a-z_]+\)[sd]", "", message).strip()
        if message in lines or (len(plain) >= 25 and "%(" not in message and plain in text):
            found.append(message)
    return found


def _english(language: str) -> list[str]:
    """The shop's English messages that `language` writes otherwise, or has not written yet (read
    from its catalogue's source, so a missing translation counts; TWINT, Total and the like,
    written the same, do not)."""
    from babel.messages.pofile import read_po

    from storefront.i18n import TRANSLATIONS_DIR

    with (TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    return [
        m.id
        for m in catalogue
        if isinstance(m.id, str) and re.search(r"[a-z]{3}", m.id) and (not m.string or m.fuzzy or m.string != m.id)
    ]


ENGLISH = {language: _english(language) for language in ("fr", "it")}


@pytest.mark.parametrize("language", ["fr", "it"])
def test_every_customer_page_in_french_and_italian_has_no_english_interface_text(page: Page, address, language):
    """Catalogue (two pages), a product with options, a sold-out one, the empty and the full cart,
    the checkout with its problems, the review, the paid order, the legal pages and a missing page."""
    slugs = {
        "fr": ("bonnet-en-merinos", "porte-cles-cloche-de-vache"),
        "it": ("berretto-in-merino", "portachiavi-campanaccio"),
    }
    found: dict[str, list[str]] = {}

    def check(step: str) -> None:
        page.wait_for_load_state()
        found[step] = _english_left_in(page, language)

    for path in ["/", "/?page=2", f"/products/{slugs[language][0]}", f"/products/{slugs[language][1]}", "/cart"]:
        page.goto(f"/{language}{path}")
        check(path)
    page.goto(f"/{language}/products/{slugs[language][0]}")
    page.get_by_test_id("add-to-cart").click()
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    page.goto(f"/{language}/cart")
    check("cart with a line")
    page.goto(f"/{language}/checkout")
    page.get_by_test_id("to-review").click()
    check("checkout with problems")
    fill_address(page, address)
    page.get_by_test_id("to-review").click()
    check("review")
    ReviewPage(page).pay_button.click()
    order = TwintPage(page).wait().authorize()
    expect(order.status).to_contain_text(_(language, "Paid. Thank you!"))
    check("paid order")
    for path in ["/legal/imprint", "/legal/terms", "/legal/privacy", "/no-such-page"]:
        page.goto(f"/{language}{path}")
        check(path)
    assert {step: texts for step, texts in found.items() if texts} == {}


def test_a_missing_page_keeps_the_cart_count(page: Page):
    page.goto("/it/products/tazza-smaltata")
    page.get_by_test_id("add-to-cart").click()
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    response = page.goto("/it/products/non-esiste")
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("cart-count")).to_have_text("1")  # fetched once the page is there
