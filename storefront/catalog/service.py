"""The catalogue as each worker serves it: an immutable in-memory snapshot per language, replaced
when the catalogue revision in the database moves. Stock is never cached: it is read fresh for the
variants a page shows (it changes with every order).

Each text is in the visitor's language where the shop wrote it, else in the shop's default
language; a view says which (`name_lang`, `label_lang`, `alt_lang`), so a page can mark it."""

from __future__ import annotations

import asyncio
import gc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, select, update

from storefront.catalog.models import CatalogRevision, Product, ProductImage, Variant
from storefront.db import Database, DbConnection
from storefront.i18n import current_language
from storefront.money import VatClass
from storefront.tables import table_of

product_t = table_of(Product)
image_t = table_of(ProductImage)
variant_t = table_of(Variant)
revision_t = table_of(CatalogRevision)

# `VariantView.available` in SQL, for statements that read a variant joined to its product.
ON_SALE = and_(variant_t.c.active, product_t.c.active)

# Built once: building a statement costs more than running it on SQLite.
_READ_REVISION = select(revision_t.c.revision).where(revision_t.c.id == 1)
_BUMP_REVISION = update(revision_t).where(revision_t.c.id == 1).values(revision=revision_t.c.revision + 1)
_READ_STOCK = select(variant_t.c.id, variant_t.c.stock).where(variant_t.c.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True, slots=True)
class ImageView:
    path: str
    alt: str
    alt_lang: str


@dataclass(frozen=True, slots=True)
class VariantView:
    id: int
    product_id: int
    sku: str
    label: str
    price: int
    vat_class: VatClass
    available: bool  # the variant and its product are both on sale
    label_lang: str


@dataclass(frozen=True, slots=True)
class ProductView:
    id: int
    slug: str
    name: str
    description: str
    active: bool
    images: tuple[ImageView, ...]
    variants: tuple[VariantView, ...]  # only those on sale, in the shop owner's order
    name_lang: str
    description_lang: str
    slugs: dict[str, str]  # the product's address in each language

    @property
    def min_price(self) -> int:
        return min((variant.price for variant in self.variants), default=0)

    @property
    def has_price_range(self) -> bool:
        return len({variant.price for variant in self.variants}) > 1

    @property
    def has_options(self) -> bool:
        return len(self.variants) > 1 or any(variant.label for variant in self.variants)


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    revision: int
    listing: tuple[ProductView, ...] = ()
    by_slug: dict[str, ProductView] = field(default_factory=dict)
    products: dict[int, ProductView] = field(default_factory=dict)
    variants: dict[int, VariantView] = field(default_factory=dict)
    # A product's address in another language, to lead there: {"miel-des-alpes": "alpine-honey"}.
    other_slugs: dict[str, str] = field(default_factory=dict)
    by_sku: dict[str, VariantView] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)  # a listed product's place in the listing

    def picture_of(self, sku: str) -> ImageView | None:
        """The catalogue picture of the product a SKU belongs to (for an order's lines)."""
        variant = self.by_sku.get(sku)
        product = self.products.get(variant.product_id) if variant else None
        return product.images[0] if product and product.images else None

    def page(self, number: int, size: int) -> Sequence[ProductView]:
        return self.listing[(number - 1) * size : number * size]

    def page_count(self, size: int) -> int:
        return max(1, math.ceil(len(self.listing) / size))


@dataclass(frozen=True, slots=True)
class Stock:
    """Units on hand per variant id, read in the same request that shows them."""

    levels: dict[int, int]

    def of(self, variant_id: int) -> int:
        return self.levels.get(variant_id, 0)

    def sold_out(self, product: ProductView) -> bool:
        return all(self.of(variant.id) <= 0 for variant in product.variants)

    def missing(self, product: ProductView) -> list[VariantView]:
        """The product's variants that are sold out, which a customer may ask to hear about."""
        return [variant for variant in product.variants if self.of(variant.id) <= 0]

    def first_available(self, product: ProductView) -> int | None:
        """The variant to preselect: the first one in stock, in the shop owner's order."""
        return next((variant.id for variant in product.variants if self.of(variant.id) > 0), None)


async def read_revision(connection: DbConnection) -> int:
    return (await connection.scalar(_READ_REVISION)) or 0


async def bump_revision(connection: DbConnection) -> None:
    """Call in the same transaction as any catalogue change."""
    result = await connection.execute(_BUMP_REVISION)
    if result.rowcount == 0:
        await connection.execute(revision_t.insert().values(id=1, revision=1))


async def read_stock(connection: DbConnection, variant_ids: Iterable[int]) -> Stock:
    ids = list(set(variant_ids))
    if not ids:
        return Stock({})
    rows = await connection.execute(_READ_STOCK, {"ids": ids})
    return Stock({row[0]: row[1] for row in rows})


def _text(base: str, translated: str | None, language: str, default: str) -> tuple[str, str]:
    """A text in `language` if it is written, else in the default language; and which it is."""
    return (translated, language) if translated and language != default else (base, default)


async def load_snapshots(
    connection: DbConnection, languages: Sequence[str], default: str
) -> dict[str, CatalogSnapshot]:
    """The catalogue in each language, from one read of its tables."""
    revision = await read_revision(connection)
    image_rows = (await connection.execute(select(image_t).order_by(image_t.c.product_id, image_t.c.position))).all()
    variant_rows = (
        await connection.execute(
            select(variant_t, product_t.c.active.label("product_active"))
            .join(product_t, product_t.c.id == variant_t.c.product_id)
            .order_by(variant_t.c.product_id, variant_t.c.position, variant_t.c.id)
        )
    ).all()
    product_rows = (await connection.execute(select(product_t).order_by(product_t.c.position, product_t.c.id))).all()
    slugs = {
        row.id: {
            language: _text(row.slug, (row.translations or {}).get(language, {}).get("slug"), language, default)[0]
            for language in languages
        }
        for row in product_rows
    }
    return {
        language: _snapshot(revision, language, default, image_rows, variant_rows, product_rows, slugs)
        for language in languages
    }


def _snapshot(
    revision: int,
    language: str,
    default: str,
    image_rows: Sequence[Any],
    variant_rows: Sequence[Any],
    product_rows: Sequence[Any],
    slugs: dict[int, dict[str, str]],
) -> CatalogSnapshot:
    images: dict[int, list[ImageView]] = {}
    for row in image_rows:
        alt, alt_lang = _text(row.alt, (row.alt_translations or {}).get(language), language, default)
        images.setdefault(row.product_id, []).append(ImageView(row.path, alt, alt_lang))
    variants: dict[int, VariantView] = {}
    on_sale: dict[int, list[VariantView]] = {}
    for row in variant_rows:
        label, label_lang = _text(row.label, (row.label_translations or {}).get(language), language, default)
        view = VariantView(
            id=row.id,
            product_id=row.product_id,
            sku=row.sku,
            label=label,
            price=row.price,
            vat_class=VatClass(row.vat_class),
            available=row.active and row.product_active,
            label_lang=label_lang,
        )
        variants[view.id] = view
        if row.active:
            on_sale.setdefault(row.product_id, []).append(view)
    products: dict[int, ProductView] = {}
    for row in product_rows:
        texts = (row.translations or {}).get(language, {})
        name, name_lang = _text(row.name, texts.get("name"), language, default)
        description, description_lang = _text(row.description, texts.get("description"), language, default)
        products[row.id] = ProductView(
            id=row.id,
            slug=slugs[row.id][language],
            name=name,
            description=description,
            active=row.active,
            images=tuple(images.get(row.id, ())),
            variants=tuple(on_sale.get(row.id, ())),
            name_lang=name_lang,
            description_lang=description_lang,
            slugs=slugs[row.id],
        )
    listing = tuple(product for product in products.values() if product.active and product.variants)
    by_slug = {product.slug: product for product in listing}
    other_slugs = {slug: product.slug for product in listing for slug in product.slugs.values() if slug not in by_slug}
    return CatalogSnapshot(
        revision=revision,
        listing=listing,
        by_slug=by_slug,
        products=products,
        variants=variants,
        other_slugs=other_slugs,
        by_sku={variant.sku: variant for variant in variants.values()},
        positions={product.slug: index for index, product in enumerate(listing)},
    )


class Catalog:
    """One per worker. Knowing the revision costs one tiny read (pages get it within their one
    read, `storefront/page_state.py`); a reload happens only after a change. Each request sees the
    snapshot in its own language."""

    def __init__(self, database: Database, languages: Sequence[str], default_language: str) -> None:
        self.database = database
        self.languages = tuple(languages)
        self.default_language = default_language
        self.revision = -1
        self.snapshots: dict[str, CatalogSnapshot] = {language: CatalogSnapshot(revision=-1) for language in languages}
        self._reloading = asyncio.Lock()

    @property
    def snapshot(self) -> CatalogSnapshot:
        return self.snapshots[current_language()]

    async def current(self, connection: DbConnection) -> CatalogSnapshot:
        return await self.at_revision(connection, await read_revision(connection))

    async def at_revision(self, connection: DbConnection, revision: int) -> CatalogSnapshot:
        """The snapshot for a revision just read from the database, reloaded if this worker's is older."""
        if revision != self.revision:
            async with self._reloading:
                if revision != self.revision:
                    self.snapshots = await load_snapshots(connection, self.languages, self.default_language)
                    self.revision = next(iter(self.snapshots.values())).revision
                    # A large catalogue is tens of thousands of long-lived objects; the cyclic
                    # garbage collector would walk them all on every full collection, stalling
                    # requests. Frozen objects are left out of those walks.
                    gc.collect()
                    gc.freeze()
        return self.snapshot
