"""“Notify me when it is back”: a customer leaves an e-mail address on a sold-out item, confirms it
from the link we e-mail (double opt-in: nobody can sign up someone else), and gets one e-mail when
the item is in stock again. Both e-mails go through the outbox, in the customer's language.

Whatever brings stock back (the back office, a catalogue file, an unpaid order that lapses) is
found by `notify_back_in_stock`, which runs periodically in every worker; claiming each request
with a conditional update makes sure that only one of them sends its e-mail."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from storefront.catalog.service import ON_SALE, Catalog, CatalogSnapshot, product_t, variant_t
from storefront.db import Database, DbConnection
from storefront.i18n import localized, translations
from storefront.orders.emails import queue_email
from storefront.orders.models import StockAlert
from storefront.tables import table_of
from storefront.tokens import new_token, token_hash

alert_t = table_of(StockAlert)

UNCONFIRMED_KEPT = dt.timedelta(hours=24)  # an unconfirmed request is forgotten after this
NOTIFIED_KEPT = dt.timedelta(days=30)  # the address is deleted this long after the e-mail went out
OPEN_PER_ADDRESS = 5  # unconfirmed requests for one address at a time: no flood of confirmation mails
BATCH = 200


@dataclass(frozen=True, slots=True)
class AlertView:
    variant_id: int
    email: str
    language: str
    confirmed: bool
    notified_at: dt.datetime | None


def item_name(snapshot: CatalogSnapshot, variant_id: int) -> str | None:
    """`Mountain honey (500 g)` in the snapshot's language; None if the item is gone."""
    variant = snapshot.variants.get(variant_id)
    product = snapshot.products.get(variant.product_id) if variant else None
    if variant is None or product is None:
        return None
    return f"{product.name} ({variant.label})" if variant.label else product.name


def _link(base_url: str, path: str, language: str) -> str:
    return base_url + localized(path, language)


async def ask(database: Database, *, variant_id: int, email: str, language: str, item: str, base_url: str) -> None:
    """Record a request and e-mail the link that confirms it. Asking again for the same item and
    address while a request is open sends nothing more; the answer to the customer is the same
    either way, so the page tells nobody whether an address is already on a list."""
    now = dt.datetime.now(dt.UTC)
    email = email.strip()
    try:
        async with database.write() as connection:
            existing = (
                await connection.execute(
                    select(alert_t.c.id, alert_t.c.created_at, alert_t.c.confirmed_at, alert_t.c.notified_at).where(
                        alert_t.c.variant_id == variant_id, func.lower(alert_t.c.email) == email.lower()
                    )
                )
            ).first()
            if existing is not None:
                lapsed = existing.confirmed_at is None and existing.created_at < now - UNCONFIRMED_KEPT
                if existing.notified_at is None and not lapsed:
                    return
                await connection.execute(delete(alert_t).where(alert_t.c.id == existing.id))
            open_requests = await connection.scalar(
                select(func.count())
                .select_from(alert_t)
                .where(
                    func.lower(alert_t.c.email) == email.lower(),
                    alert_t.c.confirmed_at.is_(None),
                    alert_t.c.created_at >= now - UNCONFIRMED_KEPT,
                )
            )
            if (open_requests or 0) >= OPEN_PER_ADDRESS:
                return
            token = new_token()
            alert_id = await connection.scalar(
                alert_t.insert()
                .values(
                    variant_id=variant_id,
                    email=email,
                    language=language,
                    token_hash=token_hash(token),
                    created_at=now,
                )
                .returning(alert_t.c.id)
            )
            t = translations(language)
            body = "\n".join(
                [
                    t.gettext("Hello,"),
                    "",
                    t.gettext("you asked us to e-mail you when %(item)s is back in stock.") % {"item": item},
                    t.gettext("Please confirm with this link:"),
                    _link(base_url, f"/stock-alerts/{token}", language),
                    "",
                    t.gettext("If you did not ask for this, ignore this e-mail: we will not write to you again."),
                ]
            )
            subject = t.gettext("Please confirm: %(item)s back in stock") % {"item": item}
            await queue_email(connection, "stock_alert_confirm", email, subject, body, stock_alert_id=alert_id)
    except IntegrityError:
        return  # the same request, sent twice at once: the other one is recorded


_BY_TOKEN = select(
    alert_t.c.variant_id, alert_t.c.email, alert_t.c.language, alert_t.c.confirmed_at, alert_t.c.notified_at
)


async def find(database: Database, token: str) -> AlertView | None:
    async with database.read() as connection:
        row = (await connection.execute(_BY_TOKEN.where(alert_t.c.token_hash == token_hash(token)))).first()
    if row is None:
        return None
    return AlertView(row.variant_id, row.email, row.language, row.confirmed_at is not None, row.notified_at)


async def confirm(database: Database, token: str) -> bool:
    """The address is confirmed (again, harmlessly, on a second click). False if no such request."""
    async with database.write() as connection:
        hashed = token_hash(token)
        await connection.execute(
            update(alert_t)
            .where(alert_t.c.token_hash == hashed, alert_t.c.confirmed_at.is_(None))
            .values(confirmed_at=dt.datetime.now(dt.UTC))
        )
        return await connection.scalar(select(alert_t.c.id).where(alert_t.c.token_hash == hashed)) is not None


async def cancel(database: Database, token: str) -> bool:
    """The request and its address are deleted. False if there was none."""
    async with database.write() as connection:
        result = await connection.execute(delete(alert_t).where(alert_t.c.token_hash == token_hash(token)))
        return result.rowcount > 0


# Requests for items off sale wait (until the item is on sale again) without taking a place in
# the batch: else enough of them would keep the others from ever being sent.
_DUE = (
    select(alert_t.c.id, alert_t.c.variant_id, alert_t.c.email, alert_t.c.language)
    .join(variant_t, variant_t.c.id == alert_t.c.variant_id)
    .join(product_t, product_t.c.id == variant_t.c.product_id)
    .where(
        alert_t.c.confirmed_at.is_not(None),
        alert_t.c.notified_at.is_(None),
        variant_t.c.stock > 0,
        ON_SALE,
    )
    .order_by(alert_t.c.id)
    .limit(BATCH)
)


async def notify_back_in_stock(database: Database, catalog: Catalog, base_url: str) -> int:
    """E-mail every confirmed request whose item is in stock again; forget old requests. The number
    of e-mails queued."""
    now = dt.datetime.now(dt.UTC)
    queued = 0
    # Read first, so a catalogue reload never runs while holding the write lock (SQLite's is the
    # whole database's); each request is claimed again in the write below.
    async with database.read() as connection:
        await catalog.current(connection)
        due = (await connection.execute(_DUE)).all()
    async with database.write() as connection:
        for alert in due:
            queued += await _notify(connection, catalog, alert, base_url, now)
        await connection.execute(
            delete(alert_t).where(
                or_(
                    and_(alert_t.c.confirmed_at.is_(None), alert_t.c.created_at < now - UNCONFIRMED_KEPT),
                    alert_t.c.notified_at < now - NOTIFIED_KEPT,
                )
            )
        )
    return queued


async def _notify(
    connection: DbConnection, catalog: Catalog, alert: Row[Any, Any, Any, Any], base_url: str, now: dt.datetime
) -> int:
    snapshot = catalog.snapshots.get(alert.language) or catalog.snapshots[catalog.default_language]
    variant = snapshot.variants.get(alert.variant_id)
    product = snapshot.products.get(variant.product_id) if variant else None
    if variant is None or product is None or not variant.available or not product.active:
        return 0  # not on sale at the moment: the request waits until it is
    claimed = await connection.execute(
        update(alert_t).where(alert_t.c.id == alert.id, alert_t.c.notified_at.is_(None)).values(notified_at=now)
    )
    if claimed.rowcount != 1:
        return 0  # another worker has just sent it
    t = translations(alert.language)
    item = item_name(snapshot, alert.variant_id)
    body = "\n".join(
        [
            t.gettext("Hello,"),
            "",
            t.gettext("%(item)s is back in stock:") % {"item": item},
            _link(base_url, f"/products/{product.slug}", alert.language),
            "",
            t.gettext("You asked us for this e-mail; it is the only one we send about it."),
        ]
    )
    subject = t.gettext("%(item)s is back in stock") % {"item": item}
    await queue_email(connection, "stock_alert_back", alert.email, subject, body, stock_alert_id=alert.id)
    return 1
