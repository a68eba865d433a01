import asyncio
import re

import pytest
from litestar.testing import TestClient

from storefront.app import create_app
from storefront.catalog.importer import CatalogImportError
from storefront.money import NBSP
from tests.support.db import execute, import_catalog
from tests.support.http import text_of


def test_listing_shows_products_on_sale_with_prices_including_vat(client):
    response = client.get("/en/")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "Alpine Honey" in page
    assert "Enamel Mug" in page
    assert f"from CHF{NBSP}9.50 incl. VAT" in page
    assert "Hidden Product" not in page
    assert "Cowbell Keyring CHF\xa014.00 incl. VAT Sold out" in page


def test_listing_is_paginated_and_a_page_beyond_the_last_is_not_found(settings):
    settings = settings.__class__(**{**{f: getattr(settings, f) for f in settings.__slots__}, "page_size": 2})
    with TestClient(app=create_app(settings)) as client:
        first, third = client.get("/en/"), client.get("/en/?page=3")
        assert 'href="/en/?page=2"' in first.text
        assert 'rel="next"' in first.text
        assert "Alpine Honey" in first.text
        assert "Alpine Honey" not in third.text
        assert 'rel="prev"' in third.text
        assert f'<link rel="canonical" href="{settings.base_url}/en/?page=3">' in third.text
        assert '<a href="/en/?page=3" aria-current="page">3</a>' in third.text  # a real link, not an <a> without href
        assert client.get("/en/?page=4").status_code == 404
        invalid = client.get("/en/?page=abc")
        assert invalid.status_code == 400
        assert "<html" in invalid.text


def test_product_page_offers_variants_on_sale_with_their_stock(client):
    response = client.get("/en/products/socks", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = text_of(response.text)
    assert "39–42 CHF\xa024.90 Only 5 left" in page
    assert "43–46 CHF\xa024.90 Sold out" in page
    assert "Discontinued" not in page
    assert 'name="quantity"' in response.text
    assert '<label for="quantity">' in response.text
    assert "incl. VAT" in page


def test_a_sold_out_product_has_no_add_button(client):
    response = client.get("/en/products/bell", headers={"Accept-Language": "en"})
    assert "Sold out" in response.text
    assert 'data-testid="add-to-cart"' not in response.text


def test_unknown_and_inactive_products_are_a_404_page_in_the_shop_layout(client):
    for path in ("/en/products/nothing-here", "/en/products/hidden", "/no/such/page"):
        response = client.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text
        assert 'class="site-header"' in response.text


def test_a_catalogue_change_reaches_a_running_shop(client, settings):
    assert "CHF\xa022.00" in client.get("/en/products/mug").text
    changed = b"product,name,sku,price,vat,stock\nmug,Enamel Mug,MUG,25.00,standard,12\n"
    asyncio.run(import_catalog(settings.database_url, changed))
    assert "CHF\xa025.00" in client.get("/en/products/mug").text


@pytest.mark.parametrize(
    ("language", "add", "vat", "sold_out", "price"),
    [
        ("de", "In den Warenkorb", "inkl. MWST", "Ausverkauft", "CHF\u00a024.90"),
        ("fr", "Ajouter au panier", "TVA incluse", "Épuisé", "24.90\u00a0CHF"),
        ("it", "Aggiungere al carrello", "IVA", "Esaurito", "CHF\u00a024.90"),
        ("en", "Add to cart", "incl. VAT", "Sold out", "CHF\u00a024.90"),
    ],
)
def test_a_product_page_in_each_language_with_swiss_prices(client, language, add, vat, sold_out, price):
    """The address decides the language, whatever the browser asks for."""
    response = client.get(f"/{language}/products/socks", headers={"Accept-Language": "ja"})
    assert f'<html lang="{language}">' in response.text
    page = text_of(response.text)
    for text in (add, vat, sold_out, price):
        assert text in page, text


def test_a_variant_added_while_the_shop_runs_shows_its_stock_at_once(client, settings):
    assert "XL" not in client.get("/en/products/mug").text
    added = (
        b"product,name,sku,option,price,vat,stock\n"
        b"mug,Enamel Mug,MUG,,22.00,standard,12\n"
        b"mug,,MUG-XL,XL,29.00,standard,7\n"
    )
    asyncio.run(import_catalog(settings.database_url, added))
    page = text_of(client.get("/en/products/mug", headers={"Accept-Language": "en"}).text)
    assert "XL CHF\xa029.00 In stock" in page


FRENCH = (
    b"product,product_fr,name,name_fr,description,description_fr,image,image_alt,image_alt_fr,sku,option,option_fr,"
    b"price,vat,stock\n"
    b"beanie,bonnet,Merino Beanie,Bonnet en merinos,Warm.,Chaud.,img/products/merino-beanie.svg,A beanie,Un bonnet,"
    b"BEANIE-RED,Red,Rouge,34.00,standard,3\n"
    b"beanie,bonnet,,,,,,,,BEANIE-BLUE,Blue,,34.00,standard,3\n"
)


def test_a_product_shows_its_texts_in_the_visitors_language_and_marks_those_it_lacks(client, settings):
    asyncio.run(import_catalog(settings.database_url, FRENCH))
    french = client.get("/fr/products/bonnet").text
    assert "<h1>Bonnet en merinos</h1>" in french
    assert '<div class="description">Chaud.</div>' in french
    assert 'alt="Un bonnet" width="640"' in french
    assert '<span class="option-label">Rouge</span>' in french
    assert '<span class="option-label" lang="en">Blue</span>' in french  # not written in French: marked
    italian = client.get("/it/products/beanie").text  # no Italian texts: the shop's own (English), marked
    assert '<h1 lang="en">Merino Beanie</h1>' in italian
    assert 'alt="A beanie" lang="en"' in italian
    # Each language's address in the switch and the alternates; another language's address leads to this one's.
    assert '<a href="/fr/products/bonnet" hreflang="fr"' in italian
    moved = client.get("/fr/products/beanie", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (301, "/fr/products/bonnet")
    assert "Bonnet en merinos" in client.get("/fr/").text


def test_two_products_may_not_share_an_address_in_any_language(settings):
    clash = b"product,product_fr,name,sku,price,vat,stock\nmug,socks,Mug,MUG,22.00,standard,12\n"
    with pytest.raises(CatalogImportError) as refused:
        asyncio.run(import_catalog(settings.database_url, clash))
    assert refused.value.problems == ["product mug: its address in fr, 'socks', is that of product socks too"]


def test_the_price_shown_is_the_chosen_options_and_each_option_carries_its_own(client):
    page = client.get("/en/products/honey").text
    assert f'<span id="product-price" data-testid="product-price">CHF{NBSP}9.50</span>' in page  # preselected
    assert f'data-price="CHF{NBSP}16.90"' in page
    assert page.index('id="add-to-cart"') < page.index('class="description"')  # the form before the text


def test_a_sold_out_product_offers_products_in_stock_instead(client, settings):
    execute(settings.database_url, "UPDATE variant SET stock = 0 WHERE sku LIKE 'SOCKS-%'")
    execute(settings.database_url, "UPDATE variant SET stock = 0 WHERE sku = 'MUG'")
    page = client.get("/en/products/socks").text
    related = page[page.index('aria-labelledby="related-heading"') :]
    offered = re.findall(r'<a href="/en/products/([a-z-]+)" class="card-link">', related)
    assert offered and "mug" not in offered and "socks" not in offered and len(offered) <= 3
    assert 'aria-labelledby="related-heading"' not in client.get("/en/products/honey").text  # only when sold out
