"""Carts live in the database, keyed by the SHA-256 of an unguessable cookie value, so they
survive restarts, several workers and the TWINT app switch."""

from __future__ import annotations

from advanced_alchemy.base import BigIntAuditBase, BigIntBase
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class Cart(BigIntAuditBase):
    # carts left unchanged too long are deleted (`expire_carts`), found by this index
    __table_args__ = (Index("ix_cart_updated_at", "updated_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)


class CartLine(BigIntBase):
    __table_args__ = (
        UniqueConstraint("cart_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    cart_id: Mapped[int] = mapped_column(ForeignKey("cart.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
