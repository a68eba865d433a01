"""An order's timeline, as the back office shows it: events written in the transaction that made
them (placed, each payment state applied and where it came from, each staff action and who did
it), merged with the e-mails of the outbox (queued, sent, or failing)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, insert, select

from storefront.db import Database, DbConnection
from storefront.orders.models import OrderEvent, OutboxEmail
from storefront.tables import table_of

event_t = table_of(OrderEvent)
outbox_t = table_of(OutboxEmail)


class Source(StrEnum):
    """Where a change came from."""

    CHECKOUT = "checkout"
    PAY_PAGE = "pay page"  # the page that hands over to TWINT read the payment
    RETURN = "return page"  # the customer came back from TWINT to the order page
    POLL = "status poll"
    WEBHOOK = "webhook"
    RECONCILER = "reconciler"
    BACK_OFFICE = "back office"
    OUTBOX = "outbox"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: dt.datetime
    kind: str
    source: str
    actor: str | None
    detail: str
    email_id: int | None = None  # an e-mail given up, which the owner may send again


async def record_event(
    connection: DbConnection,
    order_id: int,
    kind: str,
    source: Source,
    *,
    actor: str | None = None,
    detail: str = "",
    at: dt.datetime | None = None,
) -> None:
    await connection.execute(
        insert(event_t).values(
            order_id=order_id,
            at=at or dt.datetime.now(dt.UTC),
            kind=kind,
            source=source.value,
            actor=actor,
            detail=detail[:500],
        )
    )


_EVENTS = (
    select(event_t.c.at, event_t.c.kind, event_t.c.source, event_t.c.actor, event_t.c.detail)
    .where(event_t.c.order_id == bindparam("order"))
    .order_by(event_t.c.id)
)
_EMAILS = (
    select(
        outbox_t.c.id,
        outbox_t.c.kind,
        outbox_t.c.recipient,
        outbox_t.c.created_at,
        outbox_t.c.sent_at,
        outbox_t.c.attempts,
        outbox_t.c.last_error,
        outbox_t.c.given_up_at,
    )
    .where(outbox_t.c.order_id == bindparam("order"))
    .order_by(outbox_t.c.id)
)


async def read_timeline(database: Database, order_id: int, owner_address: str) -> list[TimelineEntry]:
    """Oldest first."""
    async with database.read() as connection:
        events = (await connection.execute(_EVENTS, {"order": order_id})).all()
        emails = (await connection.execute(_EMAILS, {"order": order_id})).all()
    entries = [TimelineEntry(row.at, row.kind, row.source, row.actor, row.detail) for row in events]
    for email in emails:
        to = email.recipient or owner_address
        entries.append(TimelineEntry(email.created_at, "email_queued", Source.OUTBOX, None, f"{email.kind} to {to}"))
        if email.sent_at is not None:
            entries.append(TimelineEntry(email.sent_at, "email_sent", Source.OUTBOX, None, f"{email.kind} to {to}"))
        elif email.last_error:
            entries.append(
                TimelineEntry(
                    email.given_up_at or email.created_at,
                    "email_given_up" if email.given_up_at else "email_failed",
                    Source.OUTBOX,
                    None,
                    f"{email.kind} to {to}: {email.attempts} attempt(s), last error: {email.last_error}",
                    email_id=email.id if email.given_up_at else None,
                )
            )
    entries.sort(key=lambda entry: entry.at)
    return entries
