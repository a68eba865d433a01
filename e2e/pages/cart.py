from __future__ import annotations

from playwright.sync_api import Locator

from e2e.pages.base import ShopPage


class CartPage(ShopPage):
    def open(self) -> CartPage:
        self.page.goto("/cart")
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

    @property
    def subtotal(self) -> Locator:
        return self.page.get_by_test_id("cart-subtotal")

    @property
    def empty_message(self) -> Locator:
        return self.page.get_by_test_id("cart-empty")
