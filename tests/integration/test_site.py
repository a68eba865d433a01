"""Everything around the pages: language, health, headers, assets, error pages."""

import gzip
import logging
import re

import pytest
from litestar.testing import TestClient

from storefront.app import create_app
from storefront.settings import Settings
from tests.support.db import variant_id
from tests.support.factories import fill_cart, place
from tests.support.http import HTMX, form
from tests.support.logs import errors_in


def test_the_language_switch_is_remembered_and_returns_to_the_page(client):
    response = client.post(
        "/language", data=form(client, language="de", next="/products/mug?x=1"), follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/products/mug?x=1")
    assert "lang=de" in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]
    page = client.get("/products/mug", headers={"Accept-Language": "en"}).text
    assert '<html lang="de">' in page
    assert "In den Warenkorb" in page
    client.post("/language", data=form(client, language="en", next="/"))
    assert "Add to cart" in client.get("/products/mug", headers={"Accept-Language": "de"}).text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", ""])
def test_the_language_switch_never_sends_anyone_to_another_site(client, target):
    response = client.post("/language", data=form(client, language="en", next=target), follow_redirects=False)
    assert response.headers["location"] == "/"


def test_an_unknown_language_is_refused(client):
    response = client.post("/language", data=form(client, language="xx"), follow_redirects=False)
    assert response.status_code == 400
    assert "<html" in response.text


def test_health_reports_the_database(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/missing/dir/shop.sqlite", secret_key="k" * 40)
    with TestClient(app=create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_every_page_sends_the_security_headers(client):
    headers = client.get("/").headers
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


def test_assets_have_versioned_names_are_cached_for_a_year_and_compressed(client):
    page = client.get("/").text
    css_url = page.split('rel="stylesheet" href="')[1].split('"')[0]
    assert css_url.startswith("/assets/css/shop.")
    assert css_url.endswith(".css")
    assert css_url.count(".") == 2
    response = client.get(css_url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"] == "text/css; charset=utf-8"  # one charset, not two
    js_url = client.get("/products/socks").text.split('<script src="')[1].split('"')[0]
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
    css_url = client.get("/").text.split('rel="stylesheet" href="')[1].split('"')[0]
    paths = ["/", "/products/socks", "/cart", "/legal/terms", "/healthz", css_url, "/products/no-such-thing"]
    for path in paths:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers.get("content-length") == got.headers.get("content-length"), path
        assert head.headers["x-content-type-options"] == "nosniff", path
    got, head = client.get("/checkout", follow_redirects=False), client.head("/checkout", follow_redirects=False)
    assert (head.status_code, head.headers["location"]) == (got.status_code, "/cart")  # an empty cart goes back


def test_head_changes_nothing_and_post_only_addresses_still_refuse_it(client):
    assert client.head("/cart/lines").status_code == 405


def _meta(page: str, name: str) -> list[str]:
    return re.findall(rf'<meta name="{name}" content="([^"]*)">', page)


@pytest.mark.parametrize("language", ["de", "fr", "it", "en"])
def test_pages_for_search_engines_describe_themselves_and_the_customers_own_pages_are_not_indexed(
    client, settings, language
):
    accept = {"Accept-Language": language}
    for path in ["/", "/?page=1", "/products/socks", "/legal/imprint", "/legal/terms", "/legal/privacy"]:
        page = client.get(path, headers=accept).text
        (description,) = _meta(page, "description")
        assert "%(" not in description and len(description) <= 160, (path, description)
        assert len(description) >= 20 or path.startswith("/products/"), (path, description)
        assert _meta(page, "robots") == [], path
    assert _meta(client.get("/products/socks", headers=accept).text, "description") == ["Warm socks."]
    order = place(settings, fill_cart(settings, ("MUG", 1)))
    client.post("/cart/lines", data=form(client, variant_id=str(variant_id(settings, "MUG")), quantity="1"))
    private = ["/cart", "/checkout", f"/orders/{order.public_token}", "/products/no-such-thing"]
    for path in private:
        page = client.get(path, headers=accept).text
        assert _meta(page, "robots") == ["noindex"], path
        assert _meta(page, "description") == [], path


def test_first_load_of_a_product_page_stays_within_30_kb_compressed(client):
    """The page-weight budget: HTML + CSS + JS of a first visit, gzip-compressed, images aside."""
    page = client.get("/products/socks")
    total = len(gzip.compress(page.content))
    for marker in ('rel="stylesheet" href="', '<script src="'):
        url = page.text.split(marker)[1].split('"')[0]
        asset = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert asset.headers["content-encoding"] == "gzip"
        total += len(gzip.compress(asset.content, 9))  # the client decodes; this is the size on the wire
    assert total <= 30 * 1024, total


def test_an_htmx_request_to_a_missing_page_gets_a_message_not_a_page(client):
    response = client.get("/products/none", headers={**HTMX, "Accept-Language": "en"})
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
        ("/legal/imprint", "Storefront Demo GmbH"),
        ("/legal/terms", "Swiss law applies"),
        ("/legal/privacy", "shop@example.ch"),
    ],
)
def test_the_legal_pages_are_filled_from_the_settings_and_linked_in_the_footer(client, path, text):
    response = client.get(path, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert text in response.text
    assert 'href="/legal/imprint"' in client.get("/").text
    assert client.get("/legal/nothing").status_code == 404
