"""Import and update the catalogue from a CSV file: all of it or nothing.

Columns (a header row names them; order is free; `,` or `;` separated, UTF-8):

| column        | required | meaning                                                              |
|---------------|----------|----------------------------------------------------------------------|
| product       | yes      | the product's slug in its address: lower-case letters, digits, `-`    |
| name          | new products | the product's name                                           |
| description   | no       | the product's text                                                   |
| active        | no       | `yes` (default for new products) or `no`: whether it is on sale      |
| image         | no       | a picture under `assets/`, e.g. `img/products/honey.svg`, or `media/…`: |
|               |          | one uploaded in the back office, as the downloaded file names it      |
| image_alt     | with image | the picture's text for people who can't see it                     |
| sku           | yes      | the variant's stock-keeping unit, unique across the shop             |
| option        | no       | the variant's option, e.g. `500 g` or `M / blue`                      |
| price         | yes      | gross price incl. VAT in CHF, e.g. `49.90`                            |
| vat           | yes      | `standard`, `reduced` or `accommodation`                               |
| stock         | yes      | units on hand, a whole number ≥ 0                                     |
| variant_active| no       | `yes` (default for new variants) or `no`: whether it is on sale       |

The texts above are in the shop's default language (the setting `STOREFRONT_DEFAULT_LANGUAGE`).
The same texts in another language go in the same column with the language's code after an
underscore: `product_fr` (the product's address in French), `name_fr`, `description_fr`,
`image_alt_fr`, `option_fr`, and likewise `_de`, `_it`, `_en`. Where a language's text is left
out, the shop shows the default language's, marked as such. A product's address must be unique in
each language.

One row per variant. A product's rows share `product`; product columns left empty on its later
rows mean "as above". An empty cell (or a missing optional column) leaves an existing value as it
is. A product's pictures are those of its rows, in order; a product whose rows name no picture
keeps the pictures it has. Products and variants missing from the file are left as they are.
Every row is checked before anything is written; one bad row rejects the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storefront.assets import ASSETS_DIR
from storefront.catalog.models import Product, ProductImage, StockMovement, Variant
from storefront.catalog.pictures import is_media, is_stored
from storefront.catalog.service import bump_revision
from storefront.money import VatClass, format_chf, parse_chf, plain_chf
from storefront.settings import LANGUAGES

REQUIRED = ("product", "sku", "price", "vat", "stock")
OPTIONAL = ("name", "description", "active", "image", "image_alt", "option", "variant_active")
# The columns written per language, and the key each is kept under in the database.
TRANSLATED = {"product": "slug", "name": "name", "description": "description", "image_alt": "alt", "option": "label"}
LIMITS = {"slug": 120, "name": 200, "description": 10_000, "alt": 300, "label": 120}
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
_YES = {"yes", "y", "true", "1", "ja", "oui", "si", "sì"}
_NO = {"no", "n", "false", "0", "nein", "non"}
MAX_ROWS = 50_000


class CatalogImportError(ValueError):
    """The file is rejected; `problems` lists every line with its reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(slots=True)
class VariantRow:
    line: int
    sku: str
    label: str | None  # None: not given, keep what the shop has
    price: int
    vat_class: VatClass
    stock: int
    active: bool | None
    labels: dict[str, str] = field(default_factory=dict)  # the option in other languages, where given


@dataclass(slots=True)
class ProductRows:
    line: int
    slug: str
    name: str | None  # None: not given, keep what the shop has
    description: str | None
    active: bool | None
    images: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # path, alt, alt per language
    variants: list[VariantRow] = field(default_factory=list)
    translations: dict[str, dict[str, str]] = field(default_factory=dict)  # {"fr": {"name": …}}, where given


def parse_catalog_csv(
    data: bytes,
    *,
    media_dir: Path | None = None,
    assets_dir: Path = ASSETS_DIR,
    default_language: str = LANGUAGES[0],
) -> list[ProductRows]:
    """Check the whole file; return it grouped by product, or raise with every problem found.
    Pictures uploaded in the back office (`media/…`) are accepted when they are in `media_dir`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CatalogImportError([f"the file is not UTF-8 text (byte {error.start})"]) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in (reader.fieldnames or [])]
    except csv.Error as error:
        raise CatalogImportError([f"line 1: {error}"]) from None
    problems: list[str] = []
    others = [language for language in LANGUAGES if language != default_language]
    per_language = [f"{column}_{language}" for column in TRANSLATED for language in others]
    missing = [name for name in REQUIRED if name not in header]
    in_default = [f"{column}_{default_language}" for column in TRANSLATED if f"{column}_{default_language}" in header]
    unknown = [name for name in header if name not in REQUIRED + OPTIONAL + tuple(per_language + in_default)]
    if missing:
        problems.append(f"line 1: missing column(s) {', '.join(missing)}")
    if in_default:
        problems.append(
            f"line 1: {', '.join(in_default)}: {default_language} is the shop's default language; "
            f"its texts go in the columns without a language ({', '.join(c.rsplit('_', 1)[0] for c in in_default)})"
        )
    if unknown:
        problems.append(
            f"line 1: unknown column(s) {', '.join(unknown)} (known: {', '.join(REQUIRED + OPTIONAL)}, "
            f"and per language {', '.join(TRANSLATED)} followed by _{', _'.join(others)})"
        )
    if len(set(header)) != len(header):
        problems.append("line 1: a column is named twice")
    if problems:
        raise CatalogImportError(problems)
    reader.fieldnames = header

    products: dict[str, ProductRows] = {}
    skus: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if line > MAX_ROWS + 1:
                problems.append(f"line {line}: more than {MAX_ROWS} rows; split the file")
                break
            if None in row:
                problems.append(f"line {line}: more fields than columns")
                continue
            values = {key: (value or "").strip() for key, value in row.items()}
            if not any(values.values()):
                continue  # a blank line
            _parse_row(line, values, products, skus, problems, media_dir, assets_dir, others)
    except csv.Error as error:
        problems.append(f"line {reader.line_num}: {error}")
    if not products and not problems:
        problems.append("the file has no rows")
    if problems:
        raise CatalogImportError(problems)
    return list(products.values())


def _parse_row(
    line: int,
    values: dict[str, str],
    products: dict[str, ProductRows],
    skus: dict[str, int],
    problems: list[str],
    media_dir: Path | None,
    assets_dir: Path,
    languages: list[str],
) -> None:
    def fail(message: str) -> None:
        problems.append(f"line {line}: {message}")

    def translated(column: str) -> dict[str, str]:
        """A column's texts in the other languages given on this row."""
        return {
            language: values[f"{column}_{language}"] for language in languages if values.get(f"{column}_{language}")
        }

    texts: dict[str, dict[str, str]] = {}
    for text_column in ("product", "name", "description"):
        key = TRANSLATED[text_column]
        for language, text in translated(text_column).items():
            if len(text) > LIMITS[key]:
                return fail(f"{text_column}_{language} is longer than {LIMITS[key]} characters")
            if key == "slug" and not SLUG_PATTERN.fullmatch(text):
                return fail(f"{text_column}_{language} {text!r} must be lower-case letters, digits and single hyphens")
            texts.setdefault(language, {})[key] = text

    slug = values["product"]
    if not SLUG_PATTERN.fullmatch(slug) or len(slug) > 120:
        return fail(f"product {slug!r} must be lower-case letters, digits and single hyphens (e.g. alpine-honey)")
    try:
        active = _flag(values.get("active", ""))
        variant_active = _flag(values.get("variant_active", ""))
    except ValueError as error:
        return fail(str(error))
    name, description = values.get("name") or None, values.get("description") or None
    if name is not None and len(name) > 200:
        return fail("name is longer than 200 characters")
    product = products.get(slug)
    if product is None:
        product = products[slug] = ProductRows(line, slug, name, description, active)
    else:
        for column, value in (("name", name), ("description", description), ("active", active)):
            known = getattr(product, column)
            if value is not None and known is not None and value != known:
                return fail(f"{column} differs from line {product.line} for product {slug!r}")
            if known is None:
                setattr(product, column, value)
    for language, fields in texts.items():
        known_texts = product.translations.setdefault(language, {})
        for key, text in fields.items():
            if known_texts.get(key, text) != text:
                named = next(c for c, k in TRANSLATED.items() if k == key)
                return fail(f"{named}_{language} differs from line {product.line} for product {slug!r}")
            known_texts[key] = text

    image, alt = values.get("image", ""), values.get("image_alt", "")
    if image and is_media(image):
        if media_dir is None or not is_stored(image, media_dir):
            return fail(f"image {image!r} is not a picture uploaded to this shop's media folder")
    elif image:
        resolved = (assets_dir / image).resolve()
        if ".." in Path(image).parts or not resolved.is_relative_to(assets_dir.resolve()) or not resolved.is_file():
            return fail(f"image {image!r} is not a file under assets/")
        if resolved.suffix.lower() not in {".svg", ".webp", ".jpg", ".jpeg", ".png", ".avif"}:
            return fail(f"image {image!r} is not a picture (svg, webp, jpg, png, avif)")
    alts = translated("image_alt")
    if any(len(text) > LIMITS["alt"] for text in [alt, *alts.values()]):
        return fail(f"image_alt is longer than {LIMITS['alt']} characters")
    if image:
        if not alt:
            return fail("image_alt is required with an image (its text for people who can't see it)")
        if all(known[0] != image for known in product.images):
            product.images.append((image, alt, alts))
    elif alt or alts:
        return fail("image_alt is given without an image")

    sku = values["sku"]
    if not SKU_PATTERN.fullmatch(sku):
        return fail(f"sku {sku!r} must be 1-64 letters, digits or . _ / - and start with a letter or digit")
    if sku in skus:
        return fail(f"sku {sku!r} appears already on line {skus[sku]}")
    try:
        price = parse_chf(values["price"])
    except ValueError:
        return fail(f"price {values['price']!r} must be CHF such as 49.90")
    if price <= 0:
        return fail("price must be more than CHF 0.00")
    try:
        vat_class = VatClass(values["vat"].lower())
    except ValueError:
        return fail(f"vat {values['vat']!r} must be one of {', '.join(c.value for c in VatClass)}")
    stock_text = values["stock"]
    if not stock_text.isascii() or not stock_text.isdigit() or len(stock_text) > 9:
        return fail(f"stock {stock_text!r} must be a whole number of 0 or more")
    option = values.get("option") or None
    labels = translated("option")
    if any(len(text) > LIMITS["label"] for text in [option or "", *labels.values()]):
        return fail(f"option is longer than {LIMITS['label']} characters")
    skus[sku] = line
    product.variants.append(VariantRow(line, sku, option, price, vat_class, int(stock_text), variant_active, labels))
    return None


def _flag(value: str) -> bool | None:
    """yes/no (also in German, French, Italian); empty means not given."""
    lowered = value.strip().lower()
    if not lowered:
        return None
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    raise ValueError(f"{value!r} must be yes or no")


class ProductRepository(SQLAlchemyAsyncRepository[Product]):
    model_type = Product


class VariantRepository(SQLAlchemyAsyncRepository[Variant]):
    model_type = Variant


STOCK_REASON = "catalogue file"


async def apply_catalog(
    session: AsyncSession, products: list[ProductRows], *, commit: bool = True, actor: str = "command line"
) -> list[str]:
    """Write the parsed file in one transaction; return what happened, line by line. Each stock
    the file changes is kept as a stock movement by `actor`, as a change in the back office is."""
    product_repo = ProductRepository(session=session)
    variant_repo = VariantRepository(session=session)
    report: list[str] = []
    problems: list[str] = []
    stock_changes: list[tuple[Variant, int]] = []  # the variant and its stock before the file
    next_position = (await session.scalar(select(func.max(Product.position)))) or 0
    for rows in products:
        product = await product_repo.get_one_or_none(slug=rows.slug)
        if product is None:
            if rows.name is None:
                problems.append(f"line {rows.line}: product {rows.slug} is new and needs a name")
                continue
            next_position += 1
            product = Product(
                slug=rows.slug,
                name=rows.name,
                description=rows.description or "",
                active=rows.active is not False,
                position=next_position,
                translations=rows.translations,
                images=[],
                variants=[],
            )
            session.add(product)
            report.append(f"line {rows.line}: created product {rows.slug}")
        else:
            changes = _assign(product, name=rows.name, description=rows.description, active=rows.active)
            changes += _merge_texts(product, rows.translations)
            report.append(
                f"line {rows.line}: {'updated' if changes else 'unchanged'} product {rows.slug}"
                + (f" ({', '.join(changes)})" if changes else "")
            )
        if rows.images and [(i.path, i.alt, i.alt_translations) for i in product.images] != rows.images:
            product.images = [
                ProductImage(path=path, alt=alt, alt_translations=alts, position=index)
                for index, (path, alt, alts) in enumerate(rows.images)
            ]
            report.append(f"line {rows.line}: pictures of {rows.slug} set to {len(rows.images)}")
        existing = {variant.sku: variant for variant in product.variants}
        for position, row in enumerate(rows.variants):
            variant = existing.get(row.sku)
            if variant is None:
                owner = await variant_repo.get_one_or_none(sku=row.sku)
                if owner is not None:
                    problems.append(
                        f"line {row.line}: sku {row.sku} belongs to another product "
                        f"(id {owner.product_id}); SKUs are unique across the shop"
                    )
                    continue
                created = Variant(
                    sku=row.sku,
                    label=row.label or "",
                    label_translations=row.labels,
                    price=row.price,
                    vat_class=row.vat_class.value,
                    stock=row.stock,
                    active=row.active is not False,
                    position=position,
                )
                product.variants.append(created)
                stock_changes.append((created, 0))
                report.append(
                    f"line {row.line}: created variant {row.sku} ({format_chf(row.price, 'en')}, stock {row.stock})"
                )
                continue
            stock_changes.append((variant, variant.stock))
            changes = _assign(
                variant,
                label=row.label,
                price=row.price,
                vat_class=row.vat_class.value,
                stock=row.stock,
                active=row.active,
            )
            if row.labels and {**variant.label_translations, **row.labels} != variant.label_translations:
                before = variant.label_translations
                variant.label_translations = {**before, **row.labels}  # a new object: the change is seen
                changes += [f"option_{lang} {before.get(lang)!r} → {text!r}" for lang, text in row.labels.items()]
            report.append(
                f"line {row.line}: {'updated' if changes else 'unchanged'} variant {row.sku}"
                + (f" ({', '.join(changes)})" if changes else "")
            )
    if not problems:
        await session.flush()
        problems = await _clashing_addresses(session)
    if problems:
        await session.rollback()
        raise CatalogImportError(problems)
    now = dt.datetime.now(dt.UTC)
    session.add_all(
        StockMovement.since(variant, before, reason=STOCK_REASON, actor=actor, at=now)
        for variant, before in stock_changes
        if variant.stock != before
    )
    await bump_revision(await session.connection())
    if commit:
        await session.commit()
    else:
        await session.rollback()
    return report


def _merge_texts(product: Product, given: dict[str, dict[str, str]]) -> list[str]:
    """Add the file's texts in other languages to the product's; what the file leaves out stays."""
    before = product.translations or {}
    merged = {language: dict(texts) for language, texts in before.items()}
    changes = []
    for language, texts in given.items():
        for key, value in texts.items():
            if merged.get(language, {}).get(key) != value:
                column = next(c for c, k in TRANSLATED.items() if k == key)
                changes.append(f"{column}_{language} {merged.get(language, {}).get(key)!r} → {value!r}")
                merged.setdefault(language, {})[key] = value
    if changes:
        product.translations = merged  # a new object: the change is seen
    return changes


async def _clashing_addresses(session: AsyncSession) -> list[str]:
    """Two products may not share an address in any language (a product without its own address
    in a language uses its default one there)."""
    problems = []
    rows = (await session.execute(select(Product.slug, Product.translations))).all()
    for language in LANGUAGES:
        seen: dict[str, str] = {}
        for slug, translations in rows:
            address = (translations or {}).get(language, {}).get("slug") or slug
            if address in seen and seen[address] != slug:
                problems.append(
                    f"product {slug}: its address in {language}, {address!r}, is that of product {seen[address]} too"
                )
            seen.setdefault(address, slug)
    return problems


def _assign(target: object, **values: object) -> list[str]:
    """Set what was given (None: not given) and describe what changed."""
    changes = []
    for name, value in values.items():
        if value is None:
            continue
        before = getattr(target, name)
        if before != value:
            shown = (lambda v: format_chf(v, "en")) if name == "price" else repr
            changes.append(f"{name} {shown(before)} → {shown(value)}")
            setattr(target, name, value)
    return changes


COLUMNS = (
    "product",
    "name",
    "description",
    "active",
    "image",
    "image_alt",
    "sku",
    "option",
    "price",
    "vat",
    "stock",
    "variant_active",
)


def export_columns(default_language: str) -> list[str]:
    """The import's columns, each text column followed by its other languages: product, product_fr, …"""
    others = [language for language in LANGUAGES if language != default_language]
    return [
        name
        for column in COLUMNS
        for name in [column, *([f"{column}_{lang}" for lang in others] if column in TRANSLATED else [])]
    ]


async def export_catalog(session: AsyncSession, default_language: str = LANGUAGES[0]) -> str:
    """The whole catalogue in the import's own format, so a file downloaded, edited and uploaded
    again changes exactly what was edited. A product's pictures go on its first rows, one per row;
    a product with more pictures than variants keeps the rest when the file comes back (pictures
    left out of a file are left as they are only if the product's rows name none)."""
    products = (await session.scalars(select(Product).order_by(Product.position, Product.id))).all()
    others = [language for language in LANGUAGES if language != default_language]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(export_columns(default_language))
    for product in products:
        images = list(product.images)
        if len(images) > len(product.variants):
            images = []  # cannot be written one per row: named by no row, so kept as they are
        texts = product.translations or {}
        for index, variant in enumerate(product.variants):
            first = index == 0
            image = images[index] if index < len(images) else None

            def per_language(
                base: str, key: str, source: dict[str, dict[str, str]], *, shown: bool = True
            ) -> list[str]:
                if not shown:
                    return ["", *[""] * len(others)]
                return [base, *[source.get(language, {}).get(key, "") for language in others]]

            labels = {language: {"label": text} for language, text in (variant.label_translations or {}).items()}
            alts = {
                language: {"alt": text} for language, text in ((image.alt_translations or {}) if image else {}).items()
            }
            writer.writerow(
                [
                    *per_language(product.slug, "slug", texts),
                    *per_language(product.name, "name", texts, shown=first),
                    *per_language(product.description, "description", texts, shown=first),
                    ("yes" if product.active else "no") if first else "",
                    image.path if image else "",
                    *per_language(image.alt if image else "", "alt", alts, shown=image is not None),
                    variant.sku,
                    *per_language(variant.label, "label", labels),
                    plain_chf(variant.price),
                    variant.vat_class,
                    variant.stock,
                    "yes" if variant.active else "no",
                ]
            )
    return out.getvalue()
