"""Steps many journeys share: fill a cart and reach the review page (or pay), sign in to the back
office, check a page with axe-core, and walk a page by keyboard alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

from e2e.pages import PAID, PICK_UP, Address, CheckoutPage, OrdersPage, ProductPage, ReviewPage, SignInPage

if TYPE_CHECKING:
    from e2e.backstage import StaffAccount

AXE = Axe()
NBSP = "\u00a0"


def chf(amount: str) -> str:
    """How the shop writes an amount in English: `CHF 12.50` with a no-break space."""
    return f"CHF{NBSP}{amount}"


def check_out(
    page: Page,
    address: Address,
    product: str = "enamel-mug",
    *,
    option: str | None = None,
    quantity: int = 1,
    delivery: str = PICK_UP,
) -> ReviewPage:
    """Put a product in the cart, fill in the checkout and arrive on the review page."""
    product_page = ProductPage(page).open(product)
    if option:
        product_page.choose(option)
    product_page.set_quantity(quantity).add_to_cart()
    return CheckoutPage(page).open().fill(address, delivery=delivery).continue_to_review()


def paid_order(
    page: Page,
    address: Address,
    product: str = "enamel-mug",
    *,
    option: str | None = None,
    quantity: int = 1,
    delivery: str = PICK_UP,
) -> str:
    """Buy a product and pay with TWINT, as `check_out` and "Authorize": the paid order's number."""
    order = check_out(page, address, product, option=option, quantity=quantity, delivery=delivery)
    paid = order.pay_with_twint().authorize()
    expect(paid.status).to_contain_text(PAID)
    return paid.number


def sign_in(page: Page, account: StaffAccount) -> OrdersPage:
    """Sign in to the back office: its orders list."""
    return SignInPage(page).open().sign_in(account.email, account.password)


def change_stock(office: Page, sku: str, change: str, reason: str) -> None:
    """In the back office's product list: change a variant's stock (`+4`, `-1`, `12`) with a reason."""
    office.get_by_role("link", name="Products").click()
    row = office.locator("tr", has=office.get_by_text(sku, exact=True))
    row.get_by_label(f"Change the stock of {sku}").fill(change)
    row.get_by_label(f"Reason for the change of {sku}").fill(reason)
    row.get_by_role("button", name="Change stock").click()


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    results = AXE.run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


def fits_the_screen(page: Page) -> bool:
    """Nothing sticks out sideways: the page does not scroll horizontally."""
    fits: bool = page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    return fits


def tab_to(page: Page, target: Locator, most: int = 80) -> None:
    """Press Tab until `target` (or one of its elements, e.g. a group of radio buttons) has the
    keyboard focus, and check the focus can be seen."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate_all("elements => elements.includes(document.activeElement)"):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{target} has the focus but shows no focus outline"
            return
    raise AssertionError(f"{target} was not reached with {most} presses of Tab")
