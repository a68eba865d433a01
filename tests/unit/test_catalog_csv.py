from pathlib import Path

import pytest

from storefront.catalog.importer import CatalogImportError, parse_catalog_csv
from storefront.money import VatClass

HEADER = "product,name,description,active,image,image_alt,sku,option,price,vat,stock\n"
GOOD = (
    HEADER
    + "honey,Alpine Honey,From the hills,yes,img/products/alpine-honey.svg,A jar of honey,H-250,250 g,9.50,reduced,4\n"
    + "honey,,,,,,H-500,500 g,16.90,reduced,0\n"
    + "mug,Enamel Mug,,no,,,MUG,,22,standard,7\n"
)


def problems(text: str) -> list[str]:
    with pytest.raises(CatalogImportError) as caught:
        parse_catalog_csv(text.encode())
    return caught.value.problems


def test_rows_are_grouped_by_product_with_prices_in_rappen():
    honey, mug = parse_catalog_csv(GOOD.encode())
    assert (honey.slug, honey.name, honey.active, honey.line) == ("honey", "Alpine Honey", True, 2)
    assert honey.images == [("img/products/alpine-honey.svg", "A jar of honey", {})]
    assert [(v.sku, v.label, v.price, v.vat_class, v.stock) for v in honey.variants] == [
        ("H-250", "250 g", 950, VatClass.REDUCED, 4),
        ("H-500", "500 g", 1690, VatClass.REDUCED, 0),
    ]
    assert (mug.active, mug.variants[0].price, mug.variants[0].label) == (False, 2200, None)


def test_semicolons_and_a_byte_order_mark_from_spreadsheets_are_understood():
    text = "\ufeff" + GOOD.replace(",", ";").replace("9.50", "9.50")
    assert [p.slug for p in parse_catalog_csv(text.encode())] == ["honey", "mug"]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("Honey!,Honey,,,,,X1,,1.00,standard,1", "line 2: product 'Honey!' must be lower-case"),
        ("x,X,,maybe,,,X1,,1.00,standard,1", "line 2: 'maybe' must be yes or no"),
        ("x,X,,,,,X1,,1.5,standard,1", "line 2: price '1.5' must be CHF such as 49.90"),
        ("x,X,,,,,X1,,0.00,standard,1", "line 2: price must be more than CHF 0.00"),
        ("x,X,,,,,X1,,1.00,luxury,1", "line 2: vat 'luxury' must be one of standard, reduced, accommodation"),
        ("x,X,,,,,X1,,1.00,standard,-1", "line 2: stock '-1' must be a whole number of 0 or more"),
        ("x,X,,,,,X1,,1.00,standard,2.5", "line 2: stock '2.5' must be a whole number of 0 or more"),
        ("x,X,,,,, ,,1.00,standard,1", "line 2: sku '' must be 1-64 letters"),
        ("x,X,,,img/products/none.svg,Alt,X1,,1.00,standard,1", "line 2: image 'img/products/none.svg' is not a file"),
        ("x,X,,,../pyproject.toml,Alt,X1,,1.00,standard,1", "line 2: image '../pyproject.toml' is not a file"),
        ("x,X,,,css/shop.css,Alt,X1,,1.00,standard,1", "line 2: image 'css/shop.css' is not a picture"),
        ("x,X,,,img/products/enamel-mug.svg,,X1,,1.00,standard,1", "line 2: image_alt is required with an image"),
        ("x,X,,,,Alt,X1,,1.00,standard,1", "line 2: image_alt is given without an image"),
        ("x,X,,,,,X1,,1.00,standard,1,extra", "line 2: more fields than columns"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_and_reason(row, expected):
    assert problems(HEADER + row + "\n")[0].startswith(expected)


def test_every_problem_in_the_file_is_reported_not_just_the_first():
    text = HEADER + "a,A,,,,,S1,,1.00,standard,1\n" + "b,B,,,,,S1,,1.00,standard,x\n" + "c,C,,,,,S3,,1,nope,1\n"
    assert problems(text) == [
        "line 3: sku 'S1' appears already on line 2",
        "line 4: vat 'nope' must be one of standard, reduced, accommodation",
    ]


def test_a_later_row_may_not_contradict_its_product():
    text = HEADER + "a,A,,,,,S1,,1.00,standard,1\n" + "a,Other name,,,,,S2,,1.00,standard,1\n"
    assert problems(text) == ["line 3: name differs from line 2 for product 'a'"]


def test_missing_and_unknown_columns_are_named():
    assert problems("product,sku,price,colour\nx,S,1,red\n") == [
        "line 1: missing column(s) vat, stock",
        "line 1: unknown column(s) colour (known: product, sku, price, vat, stock, name, description, active, "
        "image, image_alt, option, variant_active, and per language product, name, description, image_alt, option "
        "followed by _fr, _it, _en)",
    ]


def test_a_column_in_the_default_language_is_refused_and_its_place_named():
    assert problems("product,sku,price,vat,stock,name_de\nx,S,1,standard,1,Honig\n") == [
        "line 1: name_de: de is the shop's default language; its texts go in the columns without a language (name)"
    ]


def test_texts_in_other_languages_are_read_per_product_and_per_variant():
    text = (
        "product,product_fr,name,name_fr,image,image_alt,image_alt_it,sku,option,option_fr,price,vat,stock\n"
        "honey,miel,Honig,Miel,img/products/alpine-honey.svg,Honigglas,Vasetto di miele,"
        "H-1,250 g,250 g,9.50,reduced,4\n"
        "honey,miel,,,,,,H-2,500 g,,16.90,reduced,2\n"
    )
    (honey,) = parse_catalog_csv(text.encode())
    assert honey.translations == {"fr": {"slug": "miel", "name": "Miel"}}
    assert honey.images == [("img/products/alpine-honey.svg", "Honigglas", {"it": "Vasetto di miele"})]
    assert [(v.label, v.labels) for v in honey.variants] == [("250 g", {"fr": "250 g"}), ("500 g", {})]


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ("Honey Jar,miel", "line 3: product_fr differs from line 2 for product 'honey'"),
        ("Honey Jar,Miel Pot", "line 3: product_fr 'Miel Pot' must be lower-case letters, digits and single hyphens"),
    ],
)
def test_a_bad_text_in_another_language_is_named_with_its_line(cells, message):
    fr_slug = cells.split(",")[1]
    text = (
        "product,product_fr,name,sku,price,vat,stock\n"
        "honey,honig-fr,Honey,H-1,9.50,reduced,4\n"
        f"honey,{fr_slug},,H-2,16.90,reduced,2\n"
    )
    assert problems(text) == [message]


def test_a_file_without_rows_or_not_in_utf8_is_refused():
    assert problems(HEADER) == ["the file has no rows"]
    with pytest.raises(CatalogImportError, match="not UTF-8"):
        parse_catalog_csv(HEADER.encode() + "x,Caf\xe9,,,,,S,,1,standard,1\n".encode("latin-1"))


def test_the_demo_catalogue_is_a_believable_small_swiss_shop():
    products = parse_catalog_csv((Path(__file__).parents[2] / "storefront/catalog/demo.csv").read_bytes())
    variants = [variant for product in products for variant in product.variants]
    assert len(products) >= 12
    assert sum(len(product.variants) > 1 for product in products) >= 3
    assert {VatClass.STANDARD, VatClass.REDUCED, VatClass.ACCOMMODATION} <= {v.vat_class for v in variants}
    assert any(all(v.stock == 0 for v in product.variants) for product in products)  # one sold out
    assert all(product.images and all(alt for _path, alt, _alts in product.images) for product in products)


def test_the_demo_catalogue_is_written_in_every_language():
    """German in the columns without a language (the shop's default), and every text in French,
    Italian and English too: no product of the demo shows a text in another language."""
    products = parse_catalog_csv((Path(__file__).parents[2] / "storefront/catalog/demo.csv").read_bytes())
    others = ("fr", "it", "en")
    for product in products:
        for language in others:
            assert set(product.translations.get(language, {})) == {"slug", "name", "description"}, (
                product.slug,
                language,
            )
        assert all(set(alts) == set(others) for _path, _alt, alts in product.images), product.slug
        assert all(set(v.labels) == set(others) for v in product.variants if v.label), product.slug
    for language in others:
        slugs = [product.translations[language]["slug"] for product in products]
        assert len(set(slugs)) == len(slugs), language


@pytest.mark.parametrize(
    ("page", "count", "links"),
    [
        (1, 1, [1]),
        (1, 3, [1, 2, 3]),
        (1, 834, [1, 2, 3, None, 834]),
        (417, 834, [1, None, 415, 416, 417, 418, 419, None, 834]),
        (834, 834, [1, None, 832, 833, 834]),
        (4, 7, [1, 2, 3, 4, 5, 6, 7]),
    ],
)
def test_pagination_links_first_last_and_neighbours(page, count, links):
    from storefront.catalog.routes import page_window

    assert page_window(page, count) == links
