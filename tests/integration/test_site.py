"""Everything around the pages: language, health, headers, assets, error pages."""

import dataclasses
import gzip
import logging
import os
import re
import shutil

import pytest
from litestar.testing import TestClient

from storefront import app as app_module
from storefront.app import create_app
from storefront.security_headers import content_security_policy
from storefront.settings import Settings
from tests.support.db import count, migrate, variant_id
from tests.support.factories import fill_cart, place
from tests.support.http import HTMX, csrf, form
from tests.support.logs import errors_in


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        (None, "fr-CH,fr;q=0.9,en;q=0.5", "/fr/"),
        (None, "it-CH", "/it/"),
        (None, None, "/en/"),  # the shop's default language (a setting; English in these tests)
        ("en", "fr-CH", "/en/"),  # the saved choice wins over the browser
    ],
)
def test_the_root_leads_to_the_catalogue_in_the_saved_language_else_the_browsers(client, cookie, accept, expected):
    if cookie:
        client.cookies.set("lang", cookie)
    response = client.get("/", headers={"Accept-Language": accept} if accept else {}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, expected)
    assert "Accept-Language" in response.headers["vary"] and "Cookie" in response.headers["vary"]


def test_a_page_in_a_language_saves_it_for_the_next_visit_once(client):
    first = client.get("/it/cart")
    assert "lang=it" in first.headers["set-cookie"] and "HttpOnly" in first.headers["set-cookie"]
    assert "lang=" not in client.get("/it/legal/terms").headers.get("set-cookie", "")  # saved already
    assert client.get("/", headers={"Accept-Language": "fr"}, follow_redirects=False).headers["location"] == "/it/"


def test_the_language_switch_leads_to_the_same_page_in_each_language(client):
    page = client.get("/fr/products/socks").text
    switch = page[page.index('class="language-switch"') : page.index("</nav>", page.index('class="language-switch"'))]
    links = re.findall(r'<a href="([^"]+)" hreflang="([a-z]+)" lang="([a-z]+)"( aria-current="true")?', switch)
    assert links == [
        ("/de/products/socks", "de", "de", ""),
        ("/fr/products/socks", "fr", "fr", ' aria-current="true"'),
        ("/it/products/socks", "it", "it", ""),
        ("/en/products/socks", "en", "en", ""),
    ]
    assert '<a href="/it/?page=1" hreflang="it"' in client.get("/en/?page=1").text  # the query comes along


def test_each_page_names_its_canonical_address_and_its_address_in_every_language(client, settings):
    base = settings.base_url
    page = client.get("/it/products/socks?utm_source=newsletter").text
    assert f'<link rel="canonical" href="{base}/it/products/socks">' in page
    for code in ("de", "fr", "it", "en"):
        assert f'<link rel="alternate" hreflang="{code}" href="{base}/{code}/products/socks' in page
    assert f'<link rel="alternate" hreflang="x-default" href="{base}/">' in page
    assert f'<link rel="canonical" href="{base}/de/">' in client.get("/de").text  # one address for the catalogue


def test_an_old_address_leads_to_the_same_page_in_the_visitors_language(client, settings):
    old = client.get("/products/socks?ref=1", headers={"Accept-Language": "it-CH"}, follow_redirects=False)
    assert (old.status_code, old.headers["location"]) == (301, "/it/products/socks?ref=1")
    assert client.get("/legal/terms", headers={"Accept-Language": "fr"}).url.path == "/fr/legal/terms"
    # A form of a page loaded before the change: sent on with its method and fields.
    fields = form(client, variant_id=str(variant_id(settings, "MUG")), quantity="2")
    moved = client.post("/cart/lines", data=fields, headers={"Accept-Language": "en"}, follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (308, "/fr/cart/lines")  # French was saved above
    client.post("/cart/lines", data=fields, follow_redirects=True)
    assert "Enamel Mug" in client.get("/en/cart").text


@pytest.mark.parametrize("path", ["/xx/cart", "/de-ch/", "/DE/cart", "/fr/no-such-page"])
def test_an_unknown_language_or_page_is_a_404_page(client, path):
    response = client.get(path, headers={"Accept-Language": "fr"})
    assert response.status_code == 404
    assert '<html lang="fr">' in response.text  # the visitor's language, as far as it is known


def test_health_reports_the_database(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


def test_health_asks_the_database_at_most_once_a_second_per_worker(settings):
    import asyncio

    from storefront.app import DatabaseHealth
    from storefront.db import Database

    class Counted(Database):
        pings = 0

        async def ping(self) -> None:
            Counted.pings += 1
            if Counted.pings == 3:
                raise ConnectionError("the database went away")

    now = [100.0]
    health = DatabaseHealth(Counted(settings.database_url), ttl_s=1.0, clock=lambda: now[0])

    async def answers(at: float) -> bool:
        now[0] = at
        return await health.reachable()

    async def scenario() -> list[bool]:
        try:
            return [await answers(at) for at in (100.0, 100.5, 100.99, 101.0, 101.9, 102.0, 102.5, 103.1)]
        finally:
            await health.database.dispose()

    assert asyncio.run(scenario()) == [True, True, True, True, True, False, False, True]
    assert Counted.pings == 4  # at 100, 101, 102 (unreachable) and 103.1


def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/missing/dir/shop.sqlite", secret_key="k" * 40)
    with TestClient(app=create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_every_page_sends_the_security_headers(client):
    headers = client.get("/en/").headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self' https://js.stripe.com" in csp
    assert "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "base-uri 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in headers  # only in production, behind TLS


def test_every_status_the_shop_answers_carries_the_security_headers(settings):
    """Pages, assets and every error, including those Litestar answers before any route runs."""
    from litestar import get

    app = create_app(settings)

    @get("/boom", sync_to_thread=False)
    def boom() -> str:
        raise RuntimeError("a fault in a page")

    app.register(boom)
    variant = variant_id(settings, "MUG")
    with TestClient(app=app) as client:
        css = client.get("/en/").text.split('rel="stylesheet" href="')[1].split('"')[0]
        etag = client.get(css).headers["etag"]
        answers = {
            200: client.get("/en/products/socks"),
            201: None,  # the shop answers no POST with 201: forms redirect (303) or show the page
            303: client.post(
                "/en/cart/lines", data=form(client, variant_id=variant, quantity=1), follow_redirects=False
            ),
            304: client.get(css, headers={"If-None-Match": etag}),
            400: client.post("/en/cart/lines/99999999999999999999/delete", data=form(client)),
            401: client.get("/admin/orders", headers=HTMX),
            403: client.post("/en/cart/lines", data={"variant_id": variant, "quantity": 1}),
            404: client.get("/no-such-page"),
            405: client.delete("/en/"),
            413: client.post(
                "/en/cart/lines",
                content=b"x" * (11 * 1024 * 1024),
                headers={"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": csrf(client)},
            ),
            422: client.post("/en/checkout", data=form(client, email="not an address")),
            500: client.get("/boom"),
        }
        answers["asset"] = client.get(css)
        answers["HEAD"] = client.head("/en/")
    with TestClient(
        app=create_app(Settings(database_url=f"sqlite:///{settings.media_dir}/none/x.sqlite", secret_key="k" * 40))
    ) as down:
        answers[503] = down.get("/en/")
    for status, response in answers.items():
        if response is None:
            continue
        if isinstance(status, int):
            assert response.status_code == status, (status, response.text[:300])
        for header in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"):
            assert header in response.headers, (status, header)


def test_pages_are_compressed_by_the_shop_unless_a_proxy_in_front_does_it(settings):
    for compress, expected in ((True, "gzip"), (False, None)):
        with TestClient(app=create_app(dataclasses.replace(settings, compress=compress))) as client:
            response = client.get("/en/products/mug", headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers.get("content-encoding") == expected, compress
        assert "Enamel Mug" in response.text


def test_assets_have_versioned_names_are_cached_for_a_year_and_compressed(client):
    page = client.get("/en/").text
    css_url = page.split('rel="stylesheet" href="')[1].split('"')[0]
    assert css_url.startswith("/assets/css/shop.")
    assert css_url.endswith(".css")
    assert css_url.count(".") == 2
    response = client.get(css_url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"] == "text/css; charset=utf-8"  # one charset, not two
    js_url = client.get("/en/products/socks").text.split('<script src="')[1].split('"')[0]
    assert client.get(js_url).headers["content-type"] == "text/javascript; charset=utf-8"
    plain = client.get(css_url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content.startswith(b"/*")
    etag = response.headers["etag"]
    assert client.get(css_url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/assets/css/shop.0000000000.css").status_code == 404


def test_head_is_answered_wherever_get_is_with_the_same_status_and_headers_and_no_body(client):
    """Every GET route, asked with HEAD (crawlers and link checkers do): a page, a product, an asset,
    the health check, a missing page; the answer matches the GET without its body."""
    css_url = client.get("/en/").text.split('rel="stylesheet" href="')[1].split('"')[0]
    paths = [
        "/",
        "/en/products/socks",
        "/en/cart",
        "/en/legal/terms",
        "/healthz",
        css_url,
        "/en/products/no-such-thing",
    ]
    for path in paths:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers.get("content-length") == got.headers.get("content-length"), path
        assert head.headers["x-content-type-options"] == "nosniff", path
    got, head = client.get("/en/checkout", follow_redirects=False), client.head("/en/checkout", follow_redirects=False)
    assert (head.status_code, head.headers["location"]) == (got.status_code, "/en/cart")  # an empty cart goes back


def test_head_changes_nothing_and_post_only_addresses_still_refuse_it(client):
    assert client.head("/en/cart/lines").status_code == 405


def _meta(page: str, name: str) -> list[str]:
    return re.findall(rf'<meta name="{name}" content="([^"]*)">', page)


@pytest.mark.parametrize("language", ["de", "fr", "it", "en"])
def test_pages_for_search_engines_describe_themselves_and_the_customers_own_pages_are_not_indexed(
    client, settings, language
):
    accept = {"Accept-Language": language}
    for path in ["/", "/en/?page=1", "/en/products/socks", "/en/legal/imprint", "/en/legal/terms", "/en/legal/privacy"]:
        page = client.get(path, headers=accept).text
        (description,) = _meta(page, "description")
        assert "%(" not in description and len(description) <= 160, (path, description)
        assert len(description) >= 20 or path.startswith("/en/products/"), (path, description)
        assert _meta(page, "robots") == [], path
    assert _meta(client.get("/en/products/socks", headers=accept).text, "description") == ["Warm socks."]
    order = place(settings, fill_cart(settings, ("MUG", 1)))
    client.post("/en/cart/lines", data=form(client, variant_id=str(variant_id(settings, "MUG")), quantity="1"))
    private = ["/en/cart", "/en/checkout", f"/en/orders/{order.public_token}", "/en/products/no-such-thing"]
    for path in private:
        page = client.get(path, headers=accept).text
        assert _meta(page, "robots") == ["noindex"], path
        assert _meta(page, "description") == [], path


def test_first_load_of_a_product_page_stays_within_30_kb_compressed(client):
    """The page-weight budget: HTML + CSS + JS of a first visit, gzip-compressed, images aside."""
    page = client.get("/en/products/socks")
    total = len(gzip.compress(page.content))
    for marker in ('rel="stylesheet" href="', '<script src="'):
        url = page.text.split(marker)[1].split('"')[0]
        asset = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert asset.headers["content-encoding"] == "gzip"
        total += len(gzip.compress(asset.content, 9))  # the client decodes; this is the size on the wire
    assert total <= 30 * 1024, total


def test_an_htmx_request_to_a_missing_page_gets_a_message_not_a_page(client):
    response = client.get("/en/products/none", headers={**HTMX, "Accept-Language": "en"})
    assert response.status_code == 404
    assert response.headers["hx-retarget"] == "#notice"
    assert "<html" not in response.text
    assert "We could not find this page" in response.text


def test_a_server_fault_is_an_html_page_and_is_logged(settings, caplog):
    from litestar import get

    broken_app = create_app(settings)

    @get("/boom", sync_to_thread=False)
    def boom() -> str:
        raise RuntimeError("the disk is on fire")

    broken_app.register(boom)
    with TestClient(app=broken_app) as client:
        logging.getLogger("storefront").addHandler(caplog.handler)
        response = client.get("/boom", headers={"Accept-Language": "en"})
        logging.getLogger("storefront").removeHandler(caplog.handler)
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "disk is on fire" not in response.text
    assert errors_in(caplog.records) == ["GET /boom failed"]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/en/legal/imprint", "Storefront Demo GmbH"),
        ("/en/legal/terms", "Swiss law applies"),
        ("/en/legal/privacy", "shop@example.ch"),
    ],
)
def test_the_legal_pages_are_filled_from_the_settings_and_linked_in_the_footer(client, path, text):
    response = client.get(path, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert text in response.text
    assert 'href="/en/legal/imprint"' in client.get("/en/").text
    assert client.get("/en/legal/nothing").status_code == 404


@pytest.mark.parametrize("debug", [False, True])
def test_templates_are_read_once_unless_debugging_where_an_edit_shows_at_once(settings, tmp_path, monkeypatch, debug):
    templates = tmp_path / "templates"
    shutil.copytree(app_module.TEMPLATES_DIR, templates)
    monkeypatch.setattr(app_module, "TEMPLATES_DIR", templates)
    with TestClient(app=create_app(dataclasses.replace(settings, debug=debug))) as client:
        assert "Storefront Demo GmbH" in client.get("/en/legal/imprint").text
        imprint = templates / "legal" / "imprint.html"
        imprint.write_text(imprint.read_text().replace("{{ company.company }}", "Edited while running"))
        later = imprint.stat().st_mtime + 5
        os.utime(imprint, (later, later))
        assert ("Edited while running" in client.get("/en/legal/imprint").text) is debug


def test_the_pay_form_may_lead_to_stripes_twint_redirect_and_nowhere_else():
    """Without JavaScript the pay form's answer redirects to TWINT; form-action allows exactly
    Stripe's redirect host with real Stripe, and only the shop itself with the offline sandbox."""
    real = content_security_policy(Settings(secret_key="k" * 40))
    assert "form-action 'self' https://hooks.stripe.com;" in real
    sandbox = content_security_policy(Settings(secret_key="k" * 40, stripe_api_base="http://127.0.0.1:8000/_sandbox"))
    assert "form-action 'self';" in sandbox


def test_a_missing_page_fetches_the_header_cart_count_after_it_loads(client, settings):
    """Error pages read no cart (it may be what failed); the badge comes with htmx right after."""
    client.post("/en/cart/lines", data=form(client, variant_id=str(variant_id(settings, "MUG")), quantity="2"))
    missing = client.get("/en/products/no-such-thing")
    assert missing.status_code == 404
    assert 'data-hx-get="/en/cart/badge" data-hx-trigger="load"' in missing.text
    badge = client.get("/en/cart/badge", headers={"HX-Request": "true"})
    assert '<span class="badge" data-testid="cart-count">2</span>' in badge.text
    assert "<html" not in badge.text and badge.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/en/cart/lines", {"variant_id": "1"}),
        ("/en/checkout", {"name": "Ria"}),
        ("/en/products/bell/stock-alerts", {"variant_id": "1"}),
        ("/admin/sign-in", {"email": "owner@example.ch"}),
    ],
)
def test_a_file_sent_where_a_value_belongs_is_a_400_page(client, settings, server_errors, path, fields):
    response = client.post(path, data=form(client, **fields), files={"quantity": ("q.txt", b"1", "text/plain")})
    assert response.status_code == 400
    assert "<html" in response.text
    assert errors_in(server_errors) == []
    # Refused before the form was acted on: nothing in a cart, no order, no request, no session.
    for table in ("cart_line", "shop_order", "stock_alert", "staff_session"):
        assert count(settings, table) == 0, table


@pytest.mark.parametrize("action", ["", "/delete"])
def test_an_id_beyond_what_the_database_holds_is_a_400_page(client, server_errors, action):
    response = client.post(f"/en/cart/lines/99999999999999999999{action}", data=form(client, quantity="1"))
    assert response.status_code == 400
    assert "<html" in response.text
    assert errors_in(server_errors) == []


@pytest.mark.parametrize(
    "database_url",
    ["sqlite:///{tmp}/missing/dir/shop.sqlite", "postgresql://postgres@127.0.0.1:1/test"],
    ids=["sqlite file cannot be opened", "postgresql refuses"],
)
def test_pages_are_503_with_retry_after_while_the_database_is_unreachable(tmp_path, caplog, database_url):
    settings = Settings(database_url=database_url.format(tmp=tmp_path), secret_key="k" * 40)
    with TestClient(app=create_app(settings)) as client:
        logging.getLogger("storefront").addHandler(caplog.handler)
        for path in ("/en/", "/en/products/mug", "/en/cart", "/en/checkout"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == "30"
            assert "<html" in response.text
            assert "content-security-policy" in response.headers
        logging.getLogger("storefront").removeHandler(caplog.handler)
    outages = [record for record in caplog.records if "unreachable" in record.getMessage()]
    assert len(outages) == 4
    assert all(record.levelno == logging.WARNING and not record.exc_info for record in outages)
    assert all("SELECT" not in record.getMessage() for record in outages)  # the cause, not the statement


def test_pages_come_back_once_the_database_does_without_a_restart(tmp_path):
    folder = tmp_path / "not-yet"
    url = f"sqlite:///{folder}/shop.sqlite"
    with TestClient(app=create_app(Settings(database_url=url, secret_key="k" * 40))) as client:
        assert client.get("/en/").status_code == 503
        folder.mkdir()
        migrate(url)
        assert client.get("/en/").status_code == 200


def test_a_form_sent_as_multipart_text_fields_is_read_as_usual(client, settings):
    """A script's `FormData` sends a form as multipart without files: the cart takes it."""
    fields = form(client, variant_id=str(variant_id(settings, "MUG")), quantity="2")
    response = client.post("/en/cart/lines", files={name: (None, value) for name, value in fields.items()})
    assert response.status_code == 200  # followed the 303 to the cart
    assert "Enamel Mug" in response.text


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("GET", "/en/orders/%00", {}),  # PostgreSQL refused the token in its query: 500
        ("GET", "/en/?page=1%00", {}),
        ("POST", "/en/cart/lines", {"variant_id": "1", "quantity": "1\x00"}),
    ],
    ids=["address", "query", "form"],
)
def test_a_nul_character_anywhere_is_refused_with_400(client, settings, server_errors, method, path, fields):
    if method == "GET":
        response = client.get(path, headers={"Accept-Language": "en"})
    else:
        response = client.post(path, data=form(client, **fields), headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert errors_in(server_errors) == []
    assert count(settings, "cart_line") == 0
