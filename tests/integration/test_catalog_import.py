"""The catalogue import as a shop owner runs it: `python -m storefront catalog import FILE`."""

import asyncio
import os
import subprocess
import sys

from storefront.app import create_app
from storefront.cli import import_catalog
from tests.support.db import ROOT, query, write_meanwhile


def storefront(settings, *args):
    env = {**os.environ, "STOREFRONT_DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "storefront", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def stock_and_prices(settings):
    return query(settings.database_url, "SELECT sku, price, stock FROM variant ORDER BY sku")


def test_import_reports_per_row_what_it_created_and_changed(settings, tmp_path):
    csv_file = tmp_path / "update.csv"
    csv_file.write_text(
        "product,name,sku,option,price,vat,stock\n"
        "mug,Enamel Mug,MUG,,24.50,standard,12\n"
        "mug,,MUG-XL,XL,29.00,standard,5\n"
        "scarf,Wool Scarf,SCARF,,59.00,standard,7\n",
        encoding="utf-8",
    )
    result = storefront(settings, "catalog", "import", str(csv_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "line 2: unchanged product mug",
        "line 2: updated variant MUG (price CHF\xa022.00 → CHF\xa024.50)",
        "line 3: created variant MUG-XL (CHF\xa029.00, stock 5)",
        "line 4: created product scarf",
        "line 4: created variant SCARF (CHF\xa059.00, stock 7)",
        f"{csv_file}: imported",
    ]
    rows = dict((sku, (price, stock)) for sku, price, stock in stock_and_prices(settings))
    assert rows["MUG"] == (2450, 12)
    assert rows["MUG-XL"] == (2900, 5)
    assert rows["SCARF"] == (5900, 7)


def test_a_bad_file_is_rejected_whole_with_line_numbers(settings, tmp_path):
    before = stock_and_prices(settings)
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(
        "product,name,sku,price,vat,stock\n"
        "mug,Enamel Mug,MUG,30.00,standard,1\n"  # fine on its own, but must not be imported
        "scarf,Wool Scarf,SCARF,59.00,standard,lots\n",
        encoding="utf-8",
    )
    result = storefront(settings, "catalog", "import", str(csv_file))
    assert result.returncode == 1
    assert "rejected, nothing was imported" in result.stderr
    assert "line 3: stock 'lots' must be a whole number of 0 or more" in result.stderr
    assert stock_and_prices(settings) == before


def test_a_sku_of_another_product_rejects_the_file_after_checking_the_database(settings, tmp_path):
    before = stock_and_prices(settings)
    csv_file = tmp_path / "clash.csv"
    csv_file.write_text(
        "product,name,sku,price,vat,stock\n"
        "mug,Enamel Mug,MUG,30.00,standard,1\n"
        "scarf,Wool Scarf,HONEY-250,59.00,standard,1\n",
        encoding="utf-8",
    )
    result = storefront(settings, "catalog", "import", str(csv_file))
    assert result.returncode == 1
    assert "line 3: sku HONEY-250 belongs to another product" in result.stderr
    assert stock_and_prices(settings) == before


def test_a_new_product_without_a_name_rejects_the_file(settings, tmp_path):
    before = stock_and_prices(settings)
    csv_file = tmp_path / "nameless.csv"
    csv_file.write_text(
        "product,sku,price,vat,stock\nmug,MUG,30.00,standard,1\nscarf,SCARF,59.00,standard,1\n", encoding="utf-8"
    )
    result = storefront(settings, "catalog", "import", str(csv_file))
    assert result.returncode == 1
    assert "line 3: product scarf is new and needs a name" in result.stderr
    assert stock_and_prices(settings) == before


def test_a_dry_run_reports_but_changes_nothing(settings, tmp_path):
    before = stock_and_prices(settings)
    csv_file = tmp_path / "dry.csv"
    csv_file.write_text("product,name,sku,price,vat,stock\nmug,Enamel Mug,MUG,30.00,standard,1\n", encoding="utf-8")
    result = storefront(settings, "catalog", "import", "--dry-run", str(csv_file))
    assert result.returncode == 0
    assert "updated variant MUG" in result.stdout
    assert "nothing was changed" in result.stdout
    assert stock_and_prices(settings) == before


def test_the_demo_loads_only_into_an_empty_shop(settings):
    result = storefront(settings, "demo", "load")
    assert "already has products; left as they are" in result.stdout
    query_count = query(settings.database_url, "SELECT count(*) FROM product")[0][0]
    assert query_count == 6


def test_a_bad_setting_stops_the_start_with_one_line(settings):
    env = {**os.environ, "STOREFRONT_DATABASE_URL": settings.database_url, "STOREFRONT_PAGE_SIZE": "many"}
    result = subprocess.run(
        [sys.executable, "-m", "storefront", "routes"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr == "storefront: cannot start: STOREFRONT_PAGE_SIZE: 'many' is not a whole number\n"


def test_an_import_keeps_its_changes_when_the_shop_writes_between_its_reads_and_its_writes(settings):
    """SQLite can't turn a read into a write once another writer has committed since the read:
    it fails at once with "database is locked", whatever the busy timeout. A checkout paid while
    the owner imports a file must not make the import fail, so the import takes the write lock
    when it begins, and on SQLite the shop's other writers wait for it."""
    app = create_app(settings)
    url = settings.database_url
    interloper = write_meanwhile(
        app.state.shop_alchemy.get_engine(), url, "UPDATE variant SET stock = stock + 1 WHERE sku = 'HONEY-250'"
    )
    csv = b"product,name,sku,price,vat,stock\nmug,Enamel Mug,MUG,30.00,standard,1\n"
    report = asyncio.run(import_catalog(app, csv))

    assert "line 2: updated variant MUG (price CHF\xa022.00 \u2192 CHF\xa030.00, stock 12 \u2192 1)" in report
    assert interloper == (["database is locked"] if url.startswith("sqlite") else ["wrote"])
    assert query(url, "SELECT price, stock FROM variant WHERE sku = 'MUG'") == [(3000, 1)]
