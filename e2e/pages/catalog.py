from __future__ import annotations

from e2e.pages.base import ShopPage
from e2e.pages.product import ProductPage


class CatalogPage(ShopPage):
    def open(self, page_number: int = 1) -> CatalogPage:
        self.page.goto(self.address("/" if page_number == 1 else f"/?page={page_number}"))
        return self

    def open_product(self, name: str) -> ProductPage:
        self.page.get_by_test_id("product-grid").get_by_role("link", name=name).click()
        return ProductPage(self.page)
