"""The back office's accounts, their sign-in sessions and the failed sign-ins that slow down
whoever guesses passwords."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from advanced_alchemy.base import BigIntAuditBase, BigIntBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column


class Role(StrEnum):
    OWNER = "owner"  # everything: refunds, prices, accounts
    STAFF = "staff"  # orders, shipping and stock; no refunds, prices or accounts


class StaffAccount(BigIntAuditBase):
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str] = mapped_column(String(200))  # Argon2id, with its parameters and salt


class StaffSession(BigIntBase):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))


class SignInFailure(BigIntBase):
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)  # the client's IP address
    at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
