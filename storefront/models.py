"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from advanced_alchemy.base import orm_registry

from storefront.admin.models import SignInFailure, StaffAccount, StaffSession
from storefront.cart.models import Cart, CartLine
from storefront.catalog.models import CatalogRevision, Product, ProductImage, StockMovement, Variant
from storefront.orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    OutboxEmail,
    Payment,
    Refund,
    RefundLine,
    StockAlert,
)
from storefront.payments.models import ProcessedEvent

metadata = orm_registry.metadata

__all__ = [
    "Cart",
    "CartLine",
    "CatalogRevision",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OrderStatus",
    "OutboxEmail",
    "Payment",
    "ProcessedEvent",
    "Product",
    "ProductImage",
    "Refund",
    "RefundLine",
    "SignInFailure",
    "StaffAccount",
    "StaffSession",
    "StockAlert",
    "StockMovement",
    "Variant",
    "metadata",
]
