"""The migration that moved each order's PaymentIntent into a `payment` row: orders in every state
keep their money, lines, e-mails and Stripe events, on SQLite and PostgreSQL, and it can be undone."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url

from tests.support.db import BACKENDS, POSTGRES_URL, execute, migrate, postgres_admin, query

BEFORE_PAYMENTS = "bad0661d677f"
CREATED = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
SYNCED = dt.datetime(2026, 11, 30, 10, 5, tzinfo=dt.UTC)
# number, status, PaymentIntent, needs_refund, refund_reason
ORDERS = [
    ("1001", "pending_payment", "pi_waiting", False, None),
    ("1002", "pending_payment", None, False, None),  # the worker stopped before recording its intent
    ("1003", "payment_failed", "pi_failed", False, None),
    ("1004", "paid", "pi_paid", False, None),
    ("1005", "paid", "pi_paid_twice", True, "second payment pi_second"),
    ("1006", "cancelled", "pi_cancelled", False, None),
    ("1007", "cancelled", "pi_too_late", True, "paid after cancellation, stock gone"),
]


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite'}"
        return
    name = f"storefront_migration_{uuid.uuid4().hex[:10]}"
    asyncio.run(postgres_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(postgres_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fill_old_schema(url: str) -> None:
    for number, status, intent, needs_refund, reason in ORDERS:
        execute(
            url,
            "INSERT INTO shop_order (number, public_token, status, email, name, street, postal_code, city, country,"
            " shipping_method, shipping_price, subtotal, total, currency, payment_intent_id, client_secret_hash,"
            " payment_attempt, synced_at, language, needs_refund, refund_reason, created_at, updated_at)"
            " VALUES (:number, :token, :status, 'anna@example.ch', 'Anna', 'Weg 1', '8001', 'Zürich', 'CH',"
            " 'b_post', 700, 2200, 2900, 'chf', :intent, :secret, 1, :synced, 'de', :needs_refund, :reason,"
            " :created, :created)",
            number=number,
            token=f"token-{number}",
            status=status,
            intent=intent,
            secret=f"hash-{number}" if intent else None,
            synced=SYNCED if intent else None,
            needs_refund=needs_refund,
            reason=reason,
            created=CREATED,
        )
        order_id = query(url, "SELECT id FROM shop_order WHERE number = :n", n=number)[0][0]
        execute(
            url,
            "INSERT INTO order_line (order_id, sku, product_name, variant_label, unit_price, quantity, vat_class,"
            " vat_rate) VALUES (:order, 'MUG', 'Enamel Mug', '', 2200, 1, 'standard', '8.1')",
            order=order_id,
        )
        execute(
            url,
            "INSERT INTO processed_event (event_id, type, order_id, received_at)"
            " VALUES (:event, 'payment_intent.succeeded', :order, :at)",
            event=f"evt_{number}",
            order=order_id,
            at=SYNCED,
        )
        if status == "paid":
            execute(
                url,
                "INSERT INTO outbox_email (order_id, kind, recipient, subject, body, created_at, attempts)"
                " VALUES (:order, 'order_paid', 'anna@example.ch', 'Ihre Bestellung', 'Danke', :at, 0)",
                order=order_id,
                at=SYNCED,
            )


def payments_by_order(url: str) -> list[tuple]:
    return query(
        url,
        "SELECT o.number, p.intent_id, p.amount, p.currency, p.status, p.client_secret_hash"
        " FROM payment p JOIN shop_order o ON o.id = p.order_id ORDER BY o.number, p.id",
    )


def children(url: str) -> tuple[int, int, int]:
    return (
        query(url, "SELECT count(*) FROM order_line")[0][0],
        query(url, "SELECT count(*) FROM outbox_email")[0][0],
        query(url, "SELECT count(*) FROM processed_event WHERE order_id IS NOT NULL")[0][0],
    )


def test_every_order_keeps_its_payment_as_a_row_and_nothing_else_is_lost(empty_database):
    url = empty_database
    migrate(url, BEFORE_PAYMENTS)
    fill_old_schema(url)
    migrate(url)
    assert payments_by_order(url) == [
        ("1001", "pi_waiting", 2900, "chf", "pending", "hash-1001"),
        ("1003", "pi_failed", 2900, "chf", "failed", "hash-1003"),
        ("1004", "pi_paid", 2900, "chf", "succeeded", "hash-1004"),
        ("1005", "pi_paid_twice", 2900, "chf", "succeeded", "hash-1005"),
        ("1005", "pi_second", 2900, "chf", "refund_due", None),
        ("1006", "pi_cancelled", 2900, "chf", "canceled", "hash-1006"),
        ("1007", "pi_too_late", 2900, "chf", "refund_due", "hash-1007"),
    ]
    assert query(url, "SELECT number, status FROM shop_order ORDER BY number") == [
        (number, status) for number, status, *_rest in ORDERS
    ]
    assert children(url) == (7, 2, 7)  # an order's lines, e-mails and events survive the table's rebuild


def test_the_migration_can_be_undone_without_loss(empty_database):
    url = empty_database
    migrate(url, BEFORE_PAYMENTS)
    fill_old_schema(url)
    before = query(
        url,
        "SELECT number, status, payment_intent_id, client_secret_hash, needs_refund, refund_reason"
        " FROM shop_order ORDER BY number",
    )
    migrate(url)
    migrate(url, BEFORE_PAYMENTS, down=True)
    after = query(
        url,
        "SELECT number, status, payment_intent_id, client_secret_hash, needs_refund, refund_reason"
        " FROM shop_order ORDER BY number",
    )
    assert [(*row[:4], bool(row[4]), row[5]) for row in after] == [(*row[:4], bool(row[4]), row[5]) for row in before]
    assert children(url) == (7, 2, 7)
