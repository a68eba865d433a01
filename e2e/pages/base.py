from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import Locator, Page

if TYPE_CHECKING:
    from e2e.pages.cart import CartPage


class ShopPage:
    """What every page has: the header with its cart count and the language switch."""

    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def cart_count(self) -> Locator:
        return self.page.get_by_test_id("cart-count")

    def switch_language(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def open_cart(self) -> CartPage:
        from e2e.pages.cart import CartPage  # the cart page is a ShopPage too

        self.page.get_by_test_id("cart-link").click()
        return CartPage(self.page)
