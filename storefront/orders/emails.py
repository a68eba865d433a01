"""E-mails about orders: written into the outbox in the transaction that decides them, sent later
by `OutboxSender` (over SMTP when configured, otherwise as .eml files for a laptop or a test)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import secrets
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from babel.support import NullTranslations
from sqlalchemy import Row, bindparam, insert, or_, select, update

from storefront.db import Database, DbConnection
from storefront.i18n import translations
from storefront.money import format_chf, format_rate
from storefront.orders.models import OutboxEmail
from storefront.orders.timeline import Source, record_event
from storefront.orders.views import order_line_t as line_t
from storefront.orders.views import order_vat
from storefront.periodic import Periodic
from storefront.settings import LANGUAGES
from storefront.shipping import COUNTRIES, shipping_method
from storefront.tables import table_of

logger = logging.getLogger("storefront.orders")

outbox_t = table_of(OutboxEmail)
CLAIM_AGAIN_AFTER = dt.timedelta(minutes=2)  # a sender that stopped mid-way leaves its e-mail to another

_LINES = (
    select(line_t.c.product_name, line_t.c.variant_label, line_t.c.quantity, line_t.c.unit_price, line_t.c.vat_class)
    .where(line_t.c.order_id == bindparam("order"))
    .order_by(line_t.c.id)
)


_ALREADY_QUEUED = select(outbox_t.c.id).where(
    outbox_t.c.order_id == bindparam("order"), outbox_t.c.kind == bindparam("kind")
)


SWISS_POST_TRACKING = "https://service.post.ch/ekp-web/ui/entry/search/{number}"
OWNER = ""  # the recipient of e-mails to the shop itself: the sender fills in the shop's address


async def _queue(connection: DbConnection, order_id: int, kind: str, recipient: str, subject: str, body: str) -> bool:
    """Put an e-mail into the outbox, at most once per order and kind (the caller holds the order's
    row lock, so the check and the insert cannot interleave). False if it was queued before."""
    if await connection.scalar(_ALREADY_QUEUED, {"order": order_id, "kind": kind}) is not None:
        return False
    await queue_email(connection, kind, recipient, subject, body, order_id=order_id)
    return True


async def queue_email(
    connection: DbConnection,
    kind: str,
    recipient: str,
    subject: str,
    body: str,
    *,
    order_id: int | None = None,
    stock_alert_id: int | None = None,
) -> None:
    """An e-mail into the outbox, sent once the caller's transaction commits."""
    await connection.execute(
        insert(outbox_t).values(
            order_id=order_id,
            stock_alert_id=stock_alert_id,
            kind=kind,
            recipient=recipient,
            subject=subject,
            body=body,
            created_at=dt.datetime.now(dt.UTC),
            attempts=0,
            message_key=f"{secrets.token_hex(12)}.storefront",
        )
    )


async def _order_lines(connection: DbConnection, order: Row[Any], language: str) -> list[str]:
    lines = (await connection.execute(_LINES, {"order": order.id})).all()
    return [
        f"{line.quantity} × {line.product_name}{f' ({line.variant_label})' if line.variant_label else ''}: "
        f"{format_chf(line.unit_price * line.quantity, language)}"
        for line in lines
    ]


def _address(order: Row[Any], t: NullTranslations) -> list[str]:
    country = t.gettext(COUNTRIES[order.country]) if order.country in COUNTRIES else order.country
    return [order.name, order.street, f"{order.postal_code} {order.city}", country]


def _ships(order: Row[Any]) -> bool:
    method = shipping_method(order.shipping_method)
    return method is None or method.ships


def _delivery(order: Row[Any], t: NullTranslations, language: str) -> str:
    """`Delivery: Swiss Post B-Post (2-3 working days), CHF 7.00`, or `free`."""
    method = shipping_method(order.shipping_method)
    price = t.gettext("free") if order.shipping_price == 0 else format_chf(order.shipping_price, language)
    return f"{t.gettext('Delivery')}: {t.gettext(method.label) if method else order.shipping_method}, {price}"


async def queue_paid_confirmation(connection: DbConnection, order: Row[Any]) -> None:
    """The order confirmation, in the order's language; at most one per order."""
    language = order.language
    t = translations(language)
    lines = (await connection.execute(_LINES, {"order": order.id})).all()
    vat = order_vat(
        ((line.unit_price * line.quantity, line.vat_class) for line in lines),
        order.shipping_price,
        order.created_at.date(),
    )
    body = "\n".join(
        [
            t.gettext("Hello %(name)s,") % {"name": order.name},
            "",
            t.gettext("thank you for your order %(number)s. We have received your payment with TWINT.")
            % {"number": order.number},
            "",
            *await _order_lines(connection, order, language),
            _delivery(order, t, language),
            f"{t.gettext('Total')}: {format_chf(order.total, language)}",
            *[
                t.gettext("incl. %(rate)s VAT on %(amount)s")
                % {"rate": format_rate(line.rate), "amount": format_chf(line.gross, language)}
                + f": {format_chf(line.vat, language)}"
                for line in vat
            ],
            "",
            *(
                [t.gettext("Delivery to") + ":", *_address(order, t)]
                if _ships(order)
                else [
                    t.gettext("Pick-up in our shop"),
                    t.gettext("We e-mail you as soon as your order is ready to be picked up."),
                ]
            ),
        ]
    )
    subject = t.gettext("Your order %(number)s") % {"number": order.number}
    await _queue(connection, order.id, "order_paid", order.email, subject, body)


async def queue_owner_notice(connection: DbConnection, order: Row[Any]) -> None:
    """The shop is told of each paid order, in the shop's own language."""
    language = LANGUAGES[0]
    t = translations(language)
    body = "\n".join(
        [
            t.gettext("Order %(number)s has been paid with TWINT.") % {"number": order.number},
            "",
            *await _order_lines(connection, order, language),
            _delivery(order, t, language),
            f"{t.gettext('Total')}: {format_chf(order.total, language)}",
            "",
            t.gettext("Customer") + ":",
            *(_address(order, t) if _ships(order) else [order.name]),
            order.email,
        ]
    )
    subject = t.gettext("New order %(number)s: %(total)s") % {
        "number": order.number,
        "total": format_chf(order.total, language),
    }
    await _queue(connection, order.id, "owner_order_paid", OWNER, subject, body)


async def queue_shipped(connection: DbConnection, order: Row[Any], tracking_number: str | None) -> None:
    t = translations(order.language)
    body = [
        t.gettext("Hello %(name)s,") % {"name": order.name},
        "",
        t.gettext("your order %(number)s is on its way with Swiss Post.") % {"number": order.number},
    ]
    if tracking_number:
        body += [
            "",
            t.gettext("Tracking number: %(number)s") % {"number": tracking_number},
            SWISS_POST_TRACKING.format(number=quote(tracking_number, safe="")),
        ]
    body += ["", t.gettext("Delivery to") + ":", *_address(order, t)]
    subject = t.gettext("Your order %(number)s has been shipped") % {"number": order.number}
    await _queue(connection, order.id, "order_shipped", order.email, subject, "\n".join(body))


async def queue_ready_for_pickup(connection: DbConnection, order: Row[Any], pickup_address: str) -> None:
    t = translations(order.language)
    body = [
        t.gettext("Hello %(name)s,") % {"name": order.name},
        "",
        t.gettext("your order %(number)s is ready for pick-up at our shop:") % {"number": order.number},
        pickup_address,
    ]
    subject = t.gettext("Your order %(number)s is ready for pick-up") % {"number": order.number}
    await _queue(connection, order.id, "ready_for_pickup", order.email, subject, "\n".join(body))


async def queue_refunded(connection: DbConnection, order: Row[Any], refund_row_id: int, amount: int) -> None:
    """One e-mail per refund that Stripe has paid out."""
    language = order.language
    t = translations(language)
    body = [
        t.gettext("Hello %(name)s,") % {"name": order.name},
        "",
        t.gettext("we have refunded %(amount)s of your order %(number)s to your TWINT account.")
        % {"amount": format_chf(amount, language), "number": order.number},
    ]
    subject = t.gettext("Refund for your order %(number)s") % {"number": order.number}
    await _queue(connection, order.id, f"refund_{refund_row_id}", order.email, subject, "\n".join(body))


# Temporary failures (the mail server busy or greylisting with a 4xx, no connection, a full disk)
# are tried again after 1, 2, 4 … minutes, at most 6 hours apart, each wait ±20 % so that many
# e-mails failing together do not come back together; after about two days the e-mail is given up.
RETRY_FIRST = dt.timedelta(minutes=1)
RETRY_LONGEST = dt.timedelta(hours=6)
RETRY_FOR = dt.timedelta(days=2)
RETRY_JITTER = 0.2


def retry_delay(attempts: int, rng: Callable[[], float] = random.random) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt."""
    base: dt.timedelta = min(RETRY_FIRST * 2 ** min(attempts - 1, 20), RETRY_LONGEST)
    return base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * rng())


def retry_schedule(rng: Callable[[], float] = lambda: 0.5) -> list[dt.timedelta]:
    """When each attempt of an e-mail that keeps failing is made, counted from the first one."""
    at, schedule, attempts = dt.timedelta(0), [dt.timedelta(0)], 1
    while (at := at + retry_delay(attempts, rng)) <= RETRY_FOR:
        schedule.append(at)
        attempts += 1
    return schedule


MAX_ATTEMPTS = len(retry_schedule())


def is_permanent(error: BaseException) -> bool:
    """A mail server's 5xx refusal of this message (its sender, a recipient, its content) will be
    the same next time; a 4xx, a refused login or connection, or a local error may pass."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return error.smtp_code >= 500
    return False


_CLAIM = (
    update(outbox_t)
    .where(
        outbox_t.c.sent_at.is_(None),
        outbox_t.c.given_up_at.is_(None),
        or_(outbox_t.c.next_attempt_at.is_(None), outbox_t.c.next_attempt_at <= bindparam("now")),
        or_(outbox_t.c.claimed_at.is_(None), outbox_t.c.claimed_at < bindparam("stale_before")),
    )
    .values(claimed_at=bindparam("now"), attempts=outbox_t.c.attempts + 1)
    .returning(
        outbox_t.c.id,
        outbox_t.c.kind,
        outbox_t.c.recipient,
        outbox_t.c.subject,
        outbox_t.c.body,
        outbox_t.c.order_id,
        outbox_t.c.created_at,
        outbox_t.c.attempts,
        outbox_t.c.message_key,
    )
)
_SENT = (
    update(outbox_t)
    .where(outbox_t.c.id == bindparam("email"))
    .values(sent_at=bindparam("now"), last_error=None, next_attempt_at=None)
)
_FAILED = (
    update(outbox_t)
    .where(outbox_t.c.id == bindparam("email"))
    .values(
        claimed_at=None,
        last_error=bindparam("error"),
        next_attempt_at=bindparam("next_attempt_at"),
        given_up_at=bindparam("given_up_at"),
    )
)
_SEND_AGAIN = (
    update(outbox_t)
    .where(
        outbox_t.c.id == bindparam("email"),
        outbox_t.c.order_id == bindparam("order"),
        outbox_t.c.sent_at.is_(None),
        outbox_t.c.given_up_at.is_not(None),
    )
    .values(given_up_at=None, next_attempt_at=None, claimed_at=None, attempts=0)
)


async def send_again(database: Database, order_id: int, email_id: int, actor: str) -> bool:
    """The owner has mended what stopped an e-mail (the address, the mail settings): it is queued
    again with a fresh round of attempts. False if it was not given up (sent meanwhile, or unknown)."""
    async with database.write() as connection:
        changed = (await connection.execute(_SEND_AGAIN, {"email": email_id, "order": order_id})).rowcount
        if changed:
            await record_event(connection, order_id, "email_send_again", Source.BACK_OFFICE, actor=actor)
    return bool(changed)


class OutboxSender:
    def __init__(
        self,
        database: Database,
        sender: str,
        outbox_dir: Path,
        smtp_url: str | None = None,
        interval_s: float = 2.0,
        owner: str | None = None,
    ) -> None:
        self.database = database
        self.sender = sender
        self.owner = owner or sender  # where the shop's own e-mails go (a new order)
        self.outbox_dir = outbox_dir
        self.smtp_url = smtp_url
        self.interval_s = interval_s
        self.domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

    def periodic(self) -> Periodic:
        return Periodic("outbox", self.send_due, self.interval_s)

    async def send_due(self) -> int:
        """Sends the e-mails that are due; the number sent (failures wait for their next attempt)."""
        now = dt.datetime.now(dt.UTC)
        async with self.database.write() as connection:
            claimed = (await connection.execute(_CLAIM, {"now": now, "stale_before": now - CLAIM_AGAIN_AFTER})).all()
        sent = 0
        for email in claimed:
            message = self.message(email)
            try:
                name = f"order-{email.order_id}-{email.id}" if email.order_id else f"email-{email.id}"
                await asyncio.to_thread(self._deliver, message, name)
            except Exception as error:
                await self._failed(email, error)
                continue
            async with self.database.write() as connection:
                await connection.execute(_SENT, {"email": email.id, "now": dt.datetime.now(dt.UTC)})
            sent += 1
        return sent

    def message(self, email: Row[Any]) -> EmailMessage:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            self.sender,
            email.recipient or self.owner,
            email.subject,
        )
        key = email.message_key or f"outbox-{email.id}-{int(email.created_at.timestamp())}"
        message["Message-ID"] = f"<{key}@{self.domain}>"
        message.set_content(email.body)
        return message

    async def _failed(self, email: Row[Any], error: Exception) -> None:
        now = dt.datetime.now(dt.UTC)
        reason = f"{type(error).__name__}: {error}"[:500]
        next_at = now + retry_delay(email.attempts)
        if is_permanent(error) or email.attempts >= MAX_ATTEMPTS:
            logger.error(
                "e-mail %d (%s) given up after %d attempt(s): %s", email.id, email.kind, email.attempts, reason
            )
            values = {"next_attempt_at": None, "given_up_at": now}
        else:
            logger.warning(
                "e-mail %d (%s) not sent, attempt %d, next at %s: %s",
                email.id,
                email.kind,
                email.attempts,
                f"{next_at:%Y-%m-%d %H:%M:%S}Z",
                reason,
            )
            values = {"next_attempt_at": next_at, "given_up_at": None}
        async with self.database.write() as connection:
            await connection.execute(_FAILED, {"email": email.id, "error": reason, **values})

    def _deliver(self, message: EmailMessage, name: str) -> None:
        if not self.smtp_url:
            write_atomically(self.outbox_dir, f"{name}.eml", bytes(message))
            return
        parts = urlsplit(self.smtp_url)
        smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with smtp_class(
            parts.hostname or "localhost", parts.port or (465 if parts.scheme == "smtps" else 587), timeout=20
        ) as smtp:
            if parts.scheme == "smtp+starttls":
                smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)


def write_atomically(directory: Path, name: str, data: bytes) -> None:
    """The file appears whole or not at all: written beside it under a temporary name, flushed to
    the disk, then renamed (a rename within one folder is atomic)."""
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{name}.{os.getpid()}.tmp"
    try:
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, directory / name)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
