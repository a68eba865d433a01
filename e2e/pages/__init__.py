"""Page objects: what a customer sees and does on each page, named as the customer would; and the
back office's pages, named as the shop's staff would."""

from e2e.pages.admin import AdminOrderPage, OrdersPage, ProductFormPage, SignInPage
from e2e.pages.cart import CartPage
from e2e.pages.catalog import CatalogPage
from e2e.pages.checkout import B_POST, PICK_UP, Address, CheckoutPage
from e2e.pages.order import CANCELLED, FAILED, PAID, WAITING, OrderPage
from e2e.pages.product import ProductPage
from e2e.pages.review import ReviewPage
from e2e.pages.twint import TwintPage

__all__ = [
    "B_POST",
    "CANCELLED",
    "FAILED",
    "PAID",
    "PICK_UP",
    "WAITING",
    "Address",
    "AdminOrderPage",
    "CartPage",
    "CatalogPage",
    "CheckoutPage",
    "OrderPage",
    "OrdersPage",
    "ProductFormPage",
    "ProductPage",
    "ReviewPage",
    "SignInPage",
    "TwintPage",
]
