"""“Notify me when it is back”, as a French-speaking customer on a phone: ask on a sold-out product,
confirm from the e-mailed link, and follow the e-mail that comes when the shop restocks it."""

import re

from playwright.sync_api import Page, expect

from e2e.pages import OrdersPage
from e2e.steps import change_stock
from storefront.i18n import translations

PHONE = {"width": 390, "height": 844}


def _(text: str) -> str:
    return translations("fr").gettext(text)


def test_ask_confirm_and_get_the_back_in_stock_email(
    page: Page, back_office: OrdersPage, new_product, records, address
):
    slug = new_product(name="QA Alert Lantern", stock=0)
    page.set_viewport_size(PHONE)
    page.goto(f"/fr/products/{slug}")
    alert = page.get_by_role("region", name=_("Notify me when it is back"))
    expect(alert).to_be_visible()
    alert.get_by_label(_("E-mail")).fill("ria@localhost")  # the browser takes it, the shop does not
    alert.get_by_role("button", name=_("Notify me")).click()
    expect(page.locator("#stock-alert-message")).to_have_text(
        _("Please enter your e-mail address, e.g. anna@example.ch.")
    )
    alert = page.get_by_role("region", name=_("Notify me when it is back"))
    alert.get_by_label(_("E-mail")).fill(address.email)
    alert.get_by_role("button", name=_("Notify me")).click()
    expect(page.get_by_test_id("stock-alert-sent")).to_contain_text(address.email)

    confirmation = records.email_to(address.email, "QA Alert Lantern")
    link = re.search(r"http\S+/fr/stock-alerts/\S+", confirmation).group(0)
    page.goto(link)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_role("button", name=_("Confirm")).click()
    expect(page.get_by_test_id("stock-alert-confirmed")).to_contain_text(address.email)

    office = back_office.page
    change_stock(office, slug.upper(), "+3", "delivery from the workshop")
    expect(office.get_by_test_id(f"stock-{slug.upper()}")).to_have_text("3")

    back = records.email_to(address.email, _("%(item)s is back in stock") % {"item": "QA Alert Lantern"})
    product_link = re.search(r"http\S+/fr/products/\S+", back).group(0)
    page.goto(product_link)
    expect(page.get_by_role("heading", level=1)).to_have_text("QA Alert Lantern")
    expect(page.get_by_test_id("add-to-cart")).to_be_visible()
    expect(page.get_by_role("region", name=_("Notify me when it is back"))).to_have_count(0)
