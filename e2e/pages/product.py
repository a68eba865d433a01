from __future__ import annotations

from playwright.sync_api import Locator

from e2e.pages.base import ShopPage


class ProductPage(ShopPage):
    def open(self, slug: str) -> ProductPage:
        self.page.goto(self.address(f"/products/{slug}"))
        return self

    def choose(self, option: str) -> ProductPage:
        self.page.get_by_role("radio", name=option).check()
        return self

    def set_quantity(self, quantity: int | str) -> ProductPage:
        self.page.get_by_label("Quantity", exact=True).fill(str(quantity))
        return self

    def add_to_cart(self) -> ProductPage:
        """Click "Add to cart" and wait for the shop's answer (a message, or the cart page without JavaScript)."""
        self.page.get_by_test_id("add-to-cart").click()
        self.page.wait_for_function(
            "() => !document.getElementById('add-message') || document.getElementById('add-message').textContent.trim()"
        )
        return self

    @property
    def message(self) -> Locator:
        return self.page.locator("#add-message")
