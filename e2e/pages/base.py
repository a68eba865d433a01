from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.sync_api import Locator, Page

if TYPE_CHECKING:
    from e2e.pages.cart import CartPage


class ShopPage:
    """What every page has: the header with its cart count and the language switch."""

    def __init__(self, page: Page, language: str | None = None) -> None:
        self.page = page
        self.language = language

    def address(self, path: str) -> str:
        """A shop path in this page's language: the one given, else the one of the page open now,
        else English (/cart → /en/cart)."""
        now = re.match(r"https?://[^/]+/(de|fr|it|en)(/|$)", self.page.url)
        return f"/{self.language or (now[1] if now else 'en')}{path}"

    @property
    def cart_count(self) -> Locator:
        return self.page.get_by_test_id("cart-count")

    def switch_language(self, name: str) -> None:
        self.page.get_by_role("link", name=name, exact=True).click()

    def open_cart(self) -> CartPage:
        from e2e.pages.cart import CartPage  # the cart page is a ShopPage too

        self.page.get_by_test_id("cart-link").click()
        return CartPage(self.page)
