"""Catalogue tables: products, their images and their variants (what is actually sold)."""

from __future__ import annotations

import datetime as dt

from advanced_alchemy.base import BigIntAuditBase, BigIntBase, CommonTableAttributes, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storefront.money import VatClass


class Product(BigIntAuditBase):
    """`slug`, `name` and `description` are in the shop's default language (a setting); the
    other languages' texts, where written, are in `translations`:
    {"fr": {"slug": "miel-des-alpes", "name": "Miel des Alpes", "description": "…"}}."""

    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", order_by="ProductImage.position", cascade="all, delete-orphan", lazy="selectin"
    )
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", order_by="Variant.position", cascade="all, delete-orphan", lazy="selectin"
    )


class ProductImage(BigIntBase):
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(300))
    alt: Mapped[str] = mapped_column(String(300))
    alt_translations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # {"fr": "Un pot de miel"}
    position: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="images")


class Variant(BigIntAuditBase):
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    label_translations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # {"fr": "Rouge"}
    price: Mapped[int] = mapped_column(Integer, comment="gross price incl. VAT, in Rappen")
    vat_class: Mapped[str] = mapped_column(String(20), default=VatClass.STANDARD.value)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="variants")


class StockMovement(BigIntBase):
    """A change of a variant's stock made in the back office or by a catalogue file: how much, what it
    left, why, who, when. (Sales and cancellations move stock through their orders, which keep their
    own record.)"""

    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    change: Mapped[int] = mapped_column(Integer)
    stock_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(254))

    @classmethod
    def since(cls, variant: Variant, before: int, *, reason: str, actor: str, at: dt.datetime) -> StockMovement:
        """The movement that took `variant` (flushed, so it has its id) from `before` to its stock now."""
        return cls(
            variant_id=variant.id,
            at=at,
            change=variant.stock - before,
            stock_after=variant.stock,
            reason=reason,
            actor=actor,
        )


class _SingletonBase(CommonTableAttributes, DeclarativeBase):
    __abstract__ = True
    registry = orm_registry


class CatalogRevision(_SingletonBase):
    """One row whose number grows with every catalogue change, so each worker knows when its
    in-memory copy of the catalogue is stale."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    revision: Mapped[int] = mapped_column(Integer, default=0)
