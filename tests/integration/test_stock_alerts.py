"""“Notify me when it is back”: asked on the product page, confirmed from an e-mailed link, one
e-mail through the outbox when the stock returns, in the customer's language."""

import asyncio
import datetime as dt
import email
import email.policy
import re

import pytest

from storefront.catalog.service import Catalog
from storefront.db import Database
from storefront.orders.emails import OutboxSender
from storefront.orders.stock_alerts import BATCH, notify_back_in_stock
from storefront.settings import LANGUAGES
from tests.support.db import count, execute, query, with_database
from tests.support.http import HTMX, form, text_of


def _ask(client, slug="bell", language="en", headers=None, **fields):
    chosen = {"email": "ria@example.ch", **fields}
    if "variant_id" not in chosen:
        page = client.get(f"/{language}/products/{slug}").text
        chosen["variant_id"] = re.search(r'<input type="hidden" name="variant_id" value="(\d+)">', page).group(1)
    return client.post(f"/{language}/products/{slug}/stock-alerts", data=form(client, **chosen), headers=headers or {})


def _outbox(settings, kind):
    return query(
        settings.database_url,
        "SELECT recipient, subject, body FROM outbox_email WHERE kind = :kind ORDER BY id",
        kind=kind,
    )


def _link(body):
    return re.search(r"https?://\S+/stock-alerts/\S+", body).group(0)


def _notify(settings):
    return with_database(settings, lambda database, catalog: notify_back_in_stock(database, catalog, settings.base_url))


def test_a_sold_out_product_offers_the_alert_and_an_in_stock_one_does_not(client):
    sold_out = client.get("/en/products/bell")
    assert "Notify me when it is back" in sold_out.text
    assert '<label for="stock-alert-email">' in sold_out.text
    assert "Notify me when it is back" not in client.get("/en/products/mug").text
    # Only the sold-out option of a product with options can be asked for.
    socks = client.get("/en/products/socks").text
    options = re.search(r'<select id="stock-alert-option".*?</select>', socks, re.S).group(0)
    assert "43–46" in options
    assert "39–42" not in options


def test_double_opt_in_then_one_email_when_the_stock_is_back(client, settings):
    asked = _ask(client, language="fr", headers=HTMX)
    assert asked.status_code == 200
    assert "ria@example.ch" in text_of(asked.text)
    assert '<section id="stock-alert"' in asked.text
    assert "<html" not in asked.text  # htmx gets the form's part only
    ((recipient, subject, body),) = _outbox(settings, "stock_alert_confirm")
    assert recipient == "ria@example.ch"
    assert "Cowbell" in subject
    link = _link(body)
    assert link.startswith(f"{settings.base_url}/fr/stock-alerts/")  # the customer's language

    # Nothing is sent for an address that has not been confirmed.
    execute(settings.database_url, "UPDATE variant SET stock = 3 WHERE sku = 'BELL'")
    assert _notify(settings) == 0
    execute(settings.database_url, "UPDATE variant SET stock = 0 WHERE sku = 'BELL'")

    path = link.removeprefix(settings.base_url)
    page = client.get(path)
    assert page.status_code == 200
    assert "ria@example.ch" in page.text
    # Opening the link is not confirming: mail scanners open links too.
    assert query(settings.database_url, "SELECT confirmed_at FROM stock_alert") == [(None,)]
    confirmed = client.post(path, data=form(client, action="confirm"), follow_redirects=False)
    assert confirmed.status_code == 303
    assert 'data-testid="stock-alert-confirmed"' in client.get(path).text

    assert _notify(settings) == 0  # still sold out
    execute(settings.database_url, "UPDATE variant SET stock = 3 WHERE sku = 'BELL'")
    assert _notify(settings) == 1
    assert _notify(settings) == 0  # once only
    ((recipient, subject, body),) = _outbox(settings, "stock_alert_back")
    assert recipient == "ria@example.ch"
    assert subject.endswith("est de nouveau en stock")
    assert f"{settings.base_url}/fr/products/bell" in body
    assert "e-mailed you on" in client.get(path.replace("/fr/", "/en/")).text


def test_the_outbox_sends_alert_emails_that_belong_to_no_order(client, settings, tmp_path):
    _ask(client)

    async def send(database, _catalog):
        return await OutboxSender(database, "Shop <shop@example.ch>", tmp_path).send_due()

    assert with_database(settings, send) == 1
    (eml,) = tmp_path.glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "ria@example.ch"
    assert "/en/stock-alerts/" in message.get_content()


def test_asking_twice_sends_one_confirmation_and_answers_the_same(client, settings):
    first, second = _ask(client), _ask(client, email="RIA@example.ch")
    assert first.status_code == second.status_code == 200
    assert count(settings, "stock_alert") == 1
    assert len(_outbox(settings, "stock_alert_confirm")) == 1


def test_one_address_cannot_be_flooded_with_confirmations(client, settings):
    for number in range(8):
        execute(
            settings.database_url,
            "INSERT INTO variant (product_id, sku, label, label_translations, price, vat_class, stock, active,"
            " position, created_at, updated_at) SELECT product_id, :sku, :label, '{}', price, vat_class, 0, true,"
            " 9, created_at, updated_at FROM variant WHERE sku = 'SOCKS-43'",
            sku=f"SOCKS-X{number}",
            label=f"X{number}",
        )
    execute(settings.database_url, "UPDATE catalog_revision SET revision = revision + 1")
    ids = [row[0] for row in query(settings.database_url, "SELECT id FROM variant WHERE sku LIKE 'SOCKS-X%'")]
    for variant_id in ids:
        assert _ask(client, slug="socks", variant_id=variant_id).status_code == 200
    assert len(_outbox(settings, "stock_alert_confirm")) == 5


def test_bad_requests_are_refused_with_a_message_and_record_nothing(client, settings):
    bad_email = _ask(client, email="not-an-address", headers=HTMX)
    assert bad_email.status_code == 422
    assert 'aria-invalid="true"' in bad_email.text
    assert "e-mail address" in text_of(bad_email.text)
    in_stock = query(settings.database_url, "SELECT id FROM variant WHERE sku = 'SOCKS-39'")[0][0]
    assert _ask(client, slug="socks", variant_id=in_stock).status_code == 422
    assert _ask(client, slug="socks", variant_id="abc").status_code == 422
    without_js = _ask(client, email="")
    assert without_js.status_code == 422
    assert "<html" in without_js.text  # without htmx, the whole page with its message
    assert client.post("/en/products/nothing/stock-alerts", data=form(client, email="a@b.ch")).status_code == 404
    assert count(settings, "stock_alert") == 0
    assert count(settings, "outbox_email") == 0


def test_cancelling_deletes_the_address_and_an_unknown_link_is_not_found(client, settings):
    _ask(client)
    path = _link(_outbox(settings, "stock_alert_confirm")[0][2]).removeprefix(settings.base_url)
    cancelled = client.post(path, data=form(client, action="cancel"))
    assert cancelled.status_code == 200
    assert "deleted your address" in cancelled.text
    assert count(settings, "stock_alert") == 0
    assert count(settings, "outbox_email") == 0  # its unsent e-mail goes with it
    assert client.get(path).status_code == 404
    assert client.post(path, data=form(client, action="confirm")).status_code == 404
    assert client.get("/en/stock-alerts/made-up").status_code == 404


def test_old_requests_are_forgotten(client, settings):
    _ask(client)
    long_ago = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    execute(settings.database_url, "UPDATE stock_alert SET created_at = :old", old=long_ago)
    _notify(settings)
    assert count(settings, "stock_alert") == 0


def test_two_workers_checking_at_once_send_one_email(client, settings):
    _ask(client)
    path = _link(_outbox(settings, "stock_alert_confirm")[0][2]).removeprefix(settings.base_url)
    client.post(path, data=form(client, action="confirm"))
    execute(settings.database_url, "UPDATE variant SET stock = 2 WHERE sku = 'BELL'")

    async def two_workers():
        workers = [Database(settings.database_url) for _ in range(2)]
        try:
            return await asyncio.gather(
                *(notify_back_in_stock(db, Catalog(db, LANGUAGES, "en"), settings.base_url) for db in workers)
            )
        finally:
            for db in workers:
                await db.dispose()

    assert sorted(asyncio.run(two_workers())) == [0, 1]
    assert len(_outbox(settings, "stock_alert_back")) == 1


@pytest.mark.parametrize(
    "off_sale",
    [
        "UPDATE variant SET active = :off WHERE sku = 'MUG'",
        "UPDATE product SET active = :off WHERE id = (SELECT product_id FROM variant WHERE sku = 'MUG')",
    ],
    ids=["variant", "product"],
)
def test_requests_for_items_off_sale_do_not_hold_up_the_others(client, settings, off_sale):
    """More confirmed requests than one round sends, all for an item the owner has taken off sale
    (in stock, but not sold): the request for an item in stock again is still sent."""
    execute(settings.database_url, "UPDATE variant SET stock = 5 WHERE sku = 'MUG'")
    execute(settings.database_url, off_sale, off=False)
    execute(
        settings.database_url,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :many) "
        "INSERT INTO stock_alert (variant_id, email, language, token_hash, created_at, confirmed_at) "
        "SELECT (SELECT id FROM variant WHERE sku = 'MUG'), 'off' || i || '@example.ch', 'en', 'off' || i, :now, :now "
        "FROM n",
        many=BATCH + 1,
        now=dt.datetime.now(dt.UTC),
    )
    _ask(client)
    path = _link(_outbox(settings, "stock_alert_confirm")[0][2]).removeprefix(settings.base_url)
    client.post(path, data=form(client, action="confirm"))
    execute(settings.database_url, "UPDATE variant SET stock = 2 WHERE sku = 'BELL'")

    assert _notify(settings) == 1
    assert [recipient for recipient, _, _ in _outbox(settings, "stock_alert_back")] == ["ria@example.ch"]
    assert count(settings, "stock_alert") == BATCH + 2  # the others wait for the mug to be on sale again
