from __future__ import annotations

from playwright.sync_api import Locator

from e2e.pages.base import ShopPage
from e2e.pages.checkout import CheckoutPage


class CartPage(ShopPage):
    def open(self) -> CartPage:
        self.page.goto(self.address("/cart"))
        return self

    def line(self, sku: str) -> Locator:
        return self.page.locator(f'[data-testid="cart-line"][data-sku="{sku}"]')

    def change_quantity(self, sku: str, quantity: int) -> CartPage:
        line = self.line(sku)
        line.get_by_role("spinbutton").fill(str(quantity))
        line.get_by_role("button", name="Update").click()
        return self

    def remove(self, sku: str) -> CartPage:
        self.line(sku).get_by_role("button", name="Remove").click()
        return self

    def checkout(self) -> CheckoutPage:
        self.checkout_button.click()
        return CheckoutPage(self.page)

    @property
    def twint_limit(self) -> Locator:
        """Why the cart cannot be paid with TWINT (above CHF 5'000); shown instead of "Checkout"."""
        return self.page.get_by_test_id("twint-limit")

    @property
    def checkout_button(self) -> Locator:
        return self.page.get_by_test_id("checkout")

    @property
    def vat_lines(self) -> Locator:
        return self.page.get_by_test_id("vat-line")

    @property
    def subtotal(self) -> Locator:
        return self.page.get_by_test_id("cart-subtotal")

    @property
    def empty_message(self) -> Locator:
        return self.page.get_by_test_id("cart-empty")
