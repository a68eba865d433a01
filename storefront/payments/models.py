"""What the Stripe adapter keeps: the ids of the events it has applied."""

from __future__ import annotations

import datetime as dt

from advanced_alchemy.base import CommonTableAttributes, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class _PlainBase(CommonTableAttributes, DeclarativeBase):
    __abstract__ = True
    registry = orm_registry


class ProcessedEvent(_PlainBase):
    """A Stripe event id, recorded in the transaction that applied it, so a redelivery changes nothing."""

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_order.id", ondelete="SET NULL"), nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
