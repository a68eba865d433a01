"""A product as the back office's form creates and edits it: its texts, its variants (option,
SKU, price, VAT class, first stock, on sale) and its pictures with their alt texts; and the same
texts in the shop's other languages (left empty, the shop shows the default language's).

The form is read into plain fields, checked as a whole (every problem named at its field), and
saved in one transaction that moves the catalogue's revision, so the shop shows the change at
once. Stock of an existing variant is not edited here: it changes through the stock list, where
each change keeps its reason; a new variant's first stock is kept as a stock movement too.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storefront.catalog.backoffice import MAX_PRICE, MAX_STOCK
from storefront.catalog.importer import SKU_PATTERN, SLUG_PATTERN
from storefront.catalog.models import Product, ProductImage, StockMovement, Variant
from storefront.catalog.pictures import is_stored
from storefront.catalog.service import bump_revision
from storefront.i18n import N_, ExplainedError
from storefront.money import VatClass, parse_chf, plain_chf

MAX_VARIANTS = 50
MAX_PICTURES = 12
MAX_DESCRIPTION = 10_000
FIRST_STOCK_REASON = "new variant"
_TRANSLITERATE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "œ": "oe"})


class ProductFormError(ExplainedError):
    """A problem with one field of the product form."""


@dataclass(slots=True)
class VariantFields:
    id: int | None = None  # None: a new variant
    sku: str = ""
    option: str = ""
    price: str = ""
    vat: str = VatClass.STANDARD.value
    stock: str = ""  # a new variant's first stock; an existing one's is shown, not edited
    on_sale: bool = True
    options: dict[str, str] = field(default_factory=dict)  # the option in other languages

    @property
    def blank(self) -> bool:
        return self.id is None and not (self.sku or self.option or self.price or self.stock)


@dataclass(slots=True)
class PictureFields:
    path: str
    alt: str = ""
    remove: bool = False
    alts: dict[str, str] = field(default_factory=dict)  # the text in other languages


@dataclass(slots=True)
class ProductFields:
    id: int | None = None  # None: a new product
    slug: str = ""
    name: str = ""
    description: str = ""
    on_sale: bool = True
    variants: list[VariantFields] = field(default_factory=list)
    pictures: list[PictureFields] = field(default_factory=list)
    # Name, address and description in other languages: {"fr": {"name": …, "slug": …, "description": …}}
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, ProductFormError] = field(default_factory=dict)  # by the field's id

    def fail(self, field_id: str, message: str, **values: object) -> None:
        self.errors.setdefault(field_id, ProductFormError(message, **values))

    def add_variant_row(self) -> None:
        if len(self.variants) < MAX_VARIANTS:
            self.variants.append(VariantFields())


def blank_form() -> ProductFields:
    return ProductFields(variants=[VariantFields(), VariantFields()])


def fields_of(product: Product, stock: Mapping[int, int] | None = None) -> ProductFields:
    """The form as it shows a saved product, with one empty row for a new variant."""
    fields = ProductFields(
        id=product.id,
        slug=product.slug,
        name=product.name,
        description=product.description,
        on_sale=product.active,
        variants=[
            VariantFields(
                id=variant.id,
                sku=variant.sku,
                option=variant.label,
                price=plain_chf(variant.price),
                vat=variant.vat_class,
                stock=str(variant.stock if stock is None else stock.get(variant.id, variant.stock)),
                on_sale=variant.active,
                options=dict(variant.label_translations or {}),
            )
            for variant in product.variants
        ],
        pictures=[
            PictureFields(image.path, image.alt, alts=dict(image.alt_translations or {})) for image in product.images
        ],
        texts={language: dict(texts) for language, texts in (product.translations or {}).items()},
    )
    fields.add_variant_row()
    return fields


def read_form(form: Mapping[str, Any], product_id: int | None, languages: Sequence[str] = ()) -> ProductFields:
    """The posted form as fields; nothing checked yet. Rows are named `v0-sku`, `p0-alt`, …; the
    texts in another language `fr-name`, `v0-option-fr`, `p0-alt-fr`, … for each of `languages`."""

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def count(name: str, most: int) -> int:
        value = text(name)
        return min(int(value), most) if value.isdigit() and len(value) < 4 else 0

    variants = []
    for row in range(count("variant_rows", MAX_VARIANTS)):
        raw_id = text(f"v{row}-id")
        variants.append(
            VariantFields(
                id=int(raw_id) if raw_id.isdigit() and len(raw_id) < 19 else None,
                sku=text(f"v{row}-sku"),
                option=text(f"v{row}-option"),
                price=text(f"v{row}-price"),
                vat=text(f"v{row}-vat") or VatClass.STANDARD.value,
                stock=text(f"v{row}-stock"),
                on_sale=text(f"v{row}-on_sale") == "yes",
                options={language: text(f"v{row}-option-{language}") for language in languages},
            )
        )
    pictures = [
        PictureFields(
            text(f"p{row}-path"),
            text(f"p{row}-alt"),
            text(f"p{row}-remove") == "yes",
            {language: text(f"p{row}-alt-{language}") for language in languages},
        )
        for row in range(count("picture_rows", MAX_PICTURES + 1))
        if text(f"p{row}-path")
    ]
    texts = {
        language: {
            "name": text(f"{language}-name"),
            "slug": text(f"{language}-slug"),
            "description": str(form.get(f"{language}-description") or "").strip().replace("\r\n", "\n"),
        }
        for language in languages
    }
    return ProductFields(
        id=product_id,
        slug=text("slug"),
        name=text("name"),
        description=str(form.get("description") or "").strip().replace("\r\n", "\n"),
        on_sale=text("on_sale") == "yes",
        variants=variants,
        pictures=pictures,
        texts=texts,
    )


def slug_from(name: str) -> str:
    """`Bienenwachs-Kerze "Gross"` → `bienenwachs-kerze-gross`: an address made from a name."""
    folded = unicodedata.normalize("NFKD", name.lower().translate(_TRANSLITERATE))
    ascii_only = folded.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")[:120].rstrip("-")


def check(fields: ProductFields) -> None:
    """Name every problem at its field (`fields.errors`); fill in what follows from the rest."""
    if not fields.name:
        fields.fail("name", N_("Give the product a name."))
    elif len(fields.name) > 200:
        fields.fail("name", N_("The name is longer than 200 characters."))
    if not fields.slug and fields.id is None:
        fields.slug = slug_from(fields.name)
    if not SLUG_PATTERN.fullmatch(fields.slug) or len(fields.slug) > 120:
        fields.fail(
            "slug", N_("The address may hold lower-case letters, digits and single hyphens, such as alpine-honey.")
        )
    if len(fields.description) > MAX_DESCRIPTION:
        fields.fail("description", N_("The description is longer than 10,000 characters."))
    for language, texts in fields.texts.items():
        if len(texts.get("name", "")) > 200:
            fields.fail(f"{language}-name", N_("The name is longer than 200 characters."))
        slug = texts.get("slug", "")
        if not slug and texts.get("name") and fields.id is None:
            slug = texts["slug"] = slug_from(texts["name"])
        if slug and (not SLUG_PATTERN.fullmatch(slug) or len(slug) > 120):
            fields.fail(
                f"{language}-slug",
                N_("The address may hold lower-case letters, digits and single hyphens, such as alpine-honey."),
            )
        if len(texts.get("description", "")) > MAX_DESCRIPTION:
            fields.fail(f"{language}-description", N_("The description is longer than 10,000 characters."))

    variants = [variant for variant in fields.variants if not variant.blank]
    if not variants:
        fields.fail("v0-sku", N_("A product needs at least one variant with its SKU and price."))
    seen_skus: dict[str, int] = {}
    seen_options: dict[str, int] = {}
    for row, variant in enumerate(fields.variants):
        if variant.blank:
            continue
        if not SKU_PATTERN.fullmatch(variant.sku):
            fields.fail(
                f"v{row}-sku", N_("A SKU is 1 to 64 letters, digits or . _ / -, starting with a letter or digit.")
            )
        elif variant.sku in seen_skus:
            fields.fail(
                f"v{row}-sku", N_("This SKU is used by variant %(row)s already."), row=seen_skus[variant.sku] + 1
            )
        else:
            seen_skus[variant.sku] = row
        for language, option in variant.options.items():
            if len(option) > 120:
                fields.fail(f"v{row}-option-{language}", N_("The option is longer than 120 characters."))
        if len(variant.option) > 120:
            fields.fail(f"v{row}-option", N_("The option is longer than 120 characters."))
        elif len(variants) > 1 and not variant.option:
            fields.fail(
                f"v{row}-option", N_("With several variants, each needs an option the customer chooses, such as 500 g.")
            )
        elif variant.option and variant.option.casefold() in seen_options:
            fields.fail(
                f"v{row}-option",
                N_("Variant %(row)s has this option already."),
                row=seen_options[variant.option.casefold()] + 1,
            )
        elif variant.option:
            seen_options[variant.option.casefold()] = row
        try:
            price = parse_chf(variant.price)
        except ValueError:
            fields.fail(f"v{row}-price", N_("Enter the price in CHF, such as 24.90."))
        else:
            if not 0 < price <= MAX_PRICE:
                fields.fail(f"v{row}-price", N_("A price is more than CHF 0 and at most CHF 5'000 (TWINT's limit)."))
        if variant.vat not in {vat_class.value for vat_class in VatClass}:
            fields.fail(f"v{row}-vat", N_("Choose the VAT rate."))
        if variant.id is None:
            if not variant.stock:
                variant.stock = "0"
            if not variant.stock.isascii() or not variant.stock.isdigit() or int(variant.stock) > MAX_STOCK:
                fields.fail(f"v{row}-stock", N_("The stock is a whole number of 0 or more."))

    kept = [picture for picture in fields.pictures if not picture.remove]
    if len(kept) > MAX_PICTURES:
        fields.fail("picture", N_("A product has at most 12 pictures."))
    for row, picture in enumerate(fields.pictures):
        if picture.remove:
            continue
        if not picture.alt:
            fields.fail(f"p{row}-alt", N_("Describe the picture for people who cannot see it."))
        elif len(picture.alt) > 300:
            fields.fail(f"p{row}-alt", N_("The picture's text is longer than 300 characters."))
        for language, alt in picture.alts.items():
            if len(alt) > 300:
                fields.fail(f"p{row}-alt-{language}", N_("The picture's text is longer than 300 characters."))


async def save_product(session: AsyncSession, fields: ProductFields, actor: str, media_dir: Path) -> int | None:
    """Save a checked form in one transaction; the product's id, or None when a field failed
    against what the shop already has (a taken address or SKU; see `fields.errors`)."""
    if fields.errors:
        return None
    product: Product | None
    if fields.id is None:
        product = None
    else:
        product = await session.get(Product, fields.id)
        if product is None:
            raise LookupError(f"no product {fields.id}")
    taken = await session.scalar(
        select(Product.id).where(Product.slug == fields.slug, Product.id != (fields.id or 0)).limit(1)
    )
    if taken is not None:
        fields.fail("slug", N_("Another product has this address already."))
    others = (
        await session.execute(select(Product.slug, Product.translations).where(Product.id != (fields.id or 0)))
    ).all()
    for language, texts in fields.texts.items():
        mine = texts.get("slug") or fields.slug
        if any(mine == ((translations or {}).get(language, {}).get("slug") or slug) for slug, translations in others):
            fields.fail(
                f"{language}-slug" if texts.get("slug") else "slug", N_("Another product has this address already.")
            )
    own = {variant.id: variant for variant in (product.variants if product else [])}
    rows = [(row, variant) for row, variant in enumerate(fields.variants) if not variant.blank]
    for row, variant in rows:
        if variant.id is not None and variant.id not in own:
            fields.fail(f"v{row}-sku", N_("This variant belongs to another product. Reload the page."))
    skus = {variant.sku: row for row, variant in rows}
    for sku, owner in (
        await session.execute(select(Variant.sku, Variant.product_id).where(Variant.sku.in_(list(skus))))
    ).all():
        if owner != fields.id:
            fields.fail(f"v{skus[sku]}-sku", N_("Another product has this SKU already."))
    for row, picture in enumerate(fields.pictures):
        if not picture.remove and not is_stored(picture.path, media_dir) and picture.path.startswith("media/"):
            fields.fail(f"p{row}-alt", N_("This picture is missing from the media folder. Upload it again."))
    if fields.errors:
        return None

    if product is None:
        last = await session.scalar(select(Product.position).order_by(Product.position.desc()).limit(1))
        product = Product(position=(last or 0) + 1, images=[], variants=[])
        session.add(product)
    product.slug, product.name, product.description = fields.slug, fields.name, fields.description
    product.active = fields.on_sale
    product.translations = _written(fields.texts)

    first_stock: list[Variant] = []
    for position, (_, wanted) in enumerate(rows):
        saved = own.get(wanted.id) if wanted.id is not None else None
        if saved is None:
            saved = Variant(stock=int(wanted.stock))
            product.variants.append(saved)
            if saved.stock:
                first_stock.append(saved)
        saved.sku = wanted.sku
        saved.label = wanted.option
        saved.price = parse_chf(wanted.price)
        saved.vat_class = wanted.vat
        saved.active = wanted.on_sale
        saved.position = position
        saved.label_translations = {language: text for language, text in wanted.options.items() if text}

    kept = [picture for picture in fields.pictures if not picture.remove]
    wanted_images = [(picture.path, picture.alt, {k: v for k, v in picture.alts.items() if v}) for picture in kept]
    if [(image.path, image.alt, image.alt_translations) for image in product.images] != wanted_images:
        product.images = [
            ProductImage(path=path, alt=alt, alt_translations=alts, position=index)
            for index, (path, alt, alts) in enumerate(wanted_images)
        ]
    await session.flush()
    now = dt.datetime.now(dt.UTC)
    session.add_all(
        StockMovement.since(variant, 0, reason=FIRST_STOCK_REASON, actor=actor, at=now) for variant in first_stock
    )
    await bump_revision(await session.connection())
    await session.commit()
    return product.id


def _written(texts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The texts given per language, without the empty ones (those show the default language's)."""
    written = {language: {key: value for key, value in fields.items() if value} for language, fields in texts.items()}
    return {language: fields for language, fields in written.items() if fields}
