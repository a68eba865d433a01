"""The outbox as a mail queue: a failed e-mail waits and is tried again, a refused one stops at
once, every failure is logged with the e-mail's id and shown to the owner, nothing is half-written
and a repeat carries the same Message-ID."""

import datetime as dt
import email
import email.policy
import errno
import itertools
import logging
import os

import pytest
from sqlalchemy import select

from storefront.orders.backoffice import needs_attention
from storefront.orders.emails import (
    CLAIM_AGAIN_AFTER,
    MAX_ATTEMPTS,
    RETRY_FOR,
    OutboxSender,
    outbox_t,
    retry_delay,
    retry_schedule,
)
from tests.support.db import execute, query, with_database
from tests.support.factories import paid_order
from tests.support.smtp import mail_server

SHOP = "Storefront <shop@example.ch>"


def send(settings, outbox_dir, smtp_url=None):
    async def go(database, _catalog):
        return await OutboxSender(database, SHOP, outbox_dir, smtp_url, owner="orders@example.ch").send_due()

    return with_database(settings, go)


def confirmation(settings):
    """A paid order's two e-mails; the customer's confirmation is the first."""
    order = paid_order(settings, ("MUG", 1))
    (email_id,) = query(settings.database_url, "SELECT min(id) FROM outbox_email")[0]
    return order, email_id


def row(settings, email_id):
    columns = (outbox_t.c.attempts, outbox_t.c.next_attempt_at, outbox_t.c.given_up_at, outbox_t.c.sent_at)

    async def go(database, _catalog):
        async with database.read() as connection:
            statement = select(*columns, outbox_t.c.last_error).where(outbox_t.c.id == email_id)
            return tuple((await connection.execute(statement)).one())

    return with_database(settings, go)


def make_due(settings):
    execute(settings.database_url, "UPDATE outbox_email SET next_attempt_at = NULL WHERE sent_at IS NULL")


def attention(settings):
    async def go(database, _catalog):
        async with database.read() as connection:
            return {order_id for (order_id,) in await connection.execute(select(needs_attention().subquery()))}

    return with_database(settings, go)


def test_an_e_mail_that_cannot_be_written_waits_its_turn_is_logged_and_is_sent_later(settings, tmp_path, caplog):
    order, email_id = confirmation(settings)
    blocked = tmp_path / "outbox"
    blocked.write_text("a file where the outbox folder belongs")  # as unwritable as a read-only folder
    with caplog.at_level(logging.WARNING, logger="storefront.orders"):
        assert send(settings, blocked) == 0  # failures are not counted as sent
    attempts, next_at, given_up, sent, error = row(settings, email_id)
    assert (attempts, given_up, sent) == (1, None, None)
    assert error
    wait = next_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(seconds=40) < wait < dt.timedelta(seconds=75)  # one minute ±20 %
    assert any(f"e-mail {email_id} " in r.getMessage() and "attempt 1" in r.getMessage() for r in caplog.records)
    assert order.id in attention(settings)  # the owner sees it

    assert send(settings, blocked) == 0  # not tried again before its time
    assert row(settings, email_id)[0] == 1

    blocked.unlink()
    make_due(settings)
    assert send(settings, blocked) == 2
    assert len(list(blocked.glob("*.eml"))) == 2
    _attempts, next_at, _given_up, sent, error = row(settings, email_id)
    assert (next_at, error) == (None, None)
    assert sent is not None
    assert order.id not in attention(settings)


def test_a_full_disk_leaves_no_half_written_file(settings, tmp_path, monkeypatch):
    _order, email_id = confirmation(settings)
    outbox = tmp_path / "outbox"

    def disk_full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("storefront.orders.emails.os.fsync", disk_full)
    assert send(settings, outbox) == 0
    assert list(outbox.iterdir()) == []  # neither an empty .eml nor the temporary file
    assert "No space left on device" in row(settings, email_id)[4]


def test_greylisting_is_tried_again_and_arrives_once(settings, tmp_path):
    _order, email_id = confirmation(settings)
    with mail_server() as server:
        server.refuse("RCPT", "451 4.7.1 Greylisted, please try again later")
        assert send(settings, tmp_path, server.url) == 1  # the shop's notice went; the confirmation waits
        attempts, next_at, given_up, sent, error = row(settings, email_id)
        assert (attempts, given_up, sent) == (1, None, None)
        assert next_at is not None
        assert "451" in error
        make_due(settings)
        assert send(settings, tmp_path, server.url) == 1
        assert len(server.received) == 2
    assert row(settings, email_id)[0] == 2


def test_a_permanent_refusal_stops_at_once_and_needs_the_owner(settings, tmp_path, caplog):
    order, email_id = confirmation(settings)
    with mail_server() as server, caplog.at_level(logging.WARNING, logger="storefront.orders"):
        server.refuse("RCPT", "550 5.1.1 No such user here")
        send(settings, tmp_path, server.url)
        attempts, next_at, given_up, sent, error = row(settings, email_id)
        assert (attempts, next_at, sent) == (1, None, None)
        assert given_up is not None
        assert "550" in error
        make_due(settings)
        assert send(settings, tmp_path, server.url) == 0  # never again by itself
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"e-mail {email_id} " in message and "given up" in message for message in errors)
    assert order.id in attention(settings)


def test_after_about_two_days_of_failures_the_e_mail_is_given_up(settings, tmp_path):
    _order, email_id = confirmation(settings)
    execute(
        settings.database_url, "UPDATE outbox_email SET attempts = :n WHERE id = :id", n=MAX_ATTEMPTS - 1, id=email_id
    )
    blocked = tmp_path / "outbox"
    blocked.write_text("")
    send(settings, blocked)
    attempts, next_at, given_up, _sent, _error = row(settings, email_id)
    assert (attempts, next_at) == (MAX_ATTEMPTS, None)
    assert given_up is not None


def test_a_repeat_after_a_worker_stopped_carries_the_same_message_id(settings, tmp_path):
    _order, email_id = confirmation(settings)
    with mail_server() as server:
        assert send(settings, tmp_path, server.url) == 2
        # The worker stopped after the mail server took the e-mail, before it was recorded as sent;
        # its claim runs out and another worker takes the e-mail:
        execute(
            settings.database_url,
            "UPDATE outbox_email SET sent_at = NULL, claimed_at = :then WHERE id = :id",
            then=dt.datetime.now(dt.UTC) - CLAIM_AGAIN_AFTER - dt.timedelta(seconds=1),
            id=email_id,
        )
        assert send(settings, tmp_path, server.url) == 1
        ids = [email.message_from_bytes(data, policy=email.policy.default)["Message-ID"] for data in server.received]
    assert len(ids) == 3
    assert ids[0] == ids[2]  # the confirmation, twice, as the same message
    assert ids[0] != ids[1]
    assert ids[0].endswith("@example.ch>")


def test_the_retry_schedule_spreads_over_about_two_days():
    schedule = retry_schedule()
    assert schedule[:4] == [dt.timedelta(minutes=m) for m in (0, 1, 3, 7)]  # doubling waits
    assert dt.timedelta(hours=40) < schedule[-1] <= RETRY_FOR
    assert len(schedule) == MAX_ATTEMPTS
    assert max(b - a for a, b in itertools.pairwise(schedule)) == dt.timedelta(hours=6)
    # each wait is drawn within ±20 % so that e-mails that failed together come back apart
    assert retry_delay(3, lambda: 0.0) == dt.timedelta(minutes=4) * 0.8
    assert retry_delay(3, lambda: 1.0) == dt.timedelta(minutes=4) * 1.2


@pytest.mark.parametrize(
    ("commands", "reply"),
    [(("MAIL",), "421 4.3.2 Service not available"), (("EHLO", "HELO"), "554 5.7.1 Not welcome from this address")],
)
def test_a_server_that_refuses_the_session_is_tried_again(settings, tmp_path, commands, reply):
    """Not this e-mail's fault (a busy server, a setting the owner must mend): it waits, never given up at once."""
    _order, email_id = confirmation(settings)
    with mail_server() as server:
        for command in commands:
            server.refuse(command, reply, reply)
        assert send(settings, tmp_path, server.url) == 0
    _attempts, next_at, given_up, _sent, error = row(settings, email_id)
    assert next_at is not None
    assert given_up is None
    assert reply[:3] in error
