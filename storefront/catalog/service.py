"""The catalogue as each worker serves it: an immutable in-memory snapshot, replaced when the
catalogue revision in the database moves. Stock is never cached: it is read fresh for the
variants a page shows (it changes with every order)."""

from __future__ import annotations

import asyncio
import gc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select, update

from storefront.catalog.models import CatalogRevision, Product, ProductImage, Variant
from storefront.db import Database, DbConnection
from storefront.money import VatClass
from storefront.tables import table_of

product_t = table_of(Product)
image_t = table_of(ProductImage)
variant_t = table_of(Variant)
revision_t = table_of(CatalogRevision)

# Built once: building a statement costs more than running it on SQLite.
_READ_REVISION = select(revision_t.c.revision).where(revision_t.c.id == 1)
_BUMP_REVISION = update(revision_t).where(revision_t.c.id == 1).values(revision=revision_t.c.revision + 1)
_READ_STOCK = select(variant_t.c.id, variant_t.c.stock).where(variant_t.c.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True, slots=True)
class ImageView:
    path: str
    alt: str


@dataclass(frozen=True, slots=True)
class VariantView:
    id: int
    product_id: int
    sku: str
    label: str
    price: int
    vat_class: VatClass
    available: bool  # the variant and its product are both on sale


@dataclass(frozen=True, slots=True)
class ProductView:
    id: int
    slug: str
    name: str
    description: str
    active: bool
    images: tuple[ImageView, ...]
    variants: tuple[VariantView, ...]  # only those on sale, in the shop owner's order

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


async def load_snapshot(connection: DbConnection) -> CatalogSnapshot:
    revision = await read_revision(connection)
    images: dict[int, list[ImageView]] = {}
    for row in await connection.execute(select(image_t).order_by(image_t.c.product_id, image_t.c.position)):
        images.setdefault(row.product_id, []).append(ImageView(row.path, row.alt))
    variant_rows = await connection.execute(
        select(variant_t, product_t.c.active.label("product_active"))
        .join(product_t, product_t.c.id == variant_t.c.product_id)
        .order_by(variant_t.c.product_id, variant_t.c.position, variant_t.c.id)
    )
    variants: dict[int, VariantView] = {}
    on_sale: dict[int, list[VariantView]] = {}
    for row in variant_rows:
        view = VariantView(
            id=row.id,
            product_id=row.product_id,
            sku=row.sku,
            label=row.label,
            price=row.price,
            vat_class=VatClass(row.vat_class),
            available=row.active and row.product_active,
        )
        variants[view.id] = view
        if row.active:
            on_sale.setdefault(row.product_id, []).append(view)
    products: dict[int, ProductView] = {}
    for row in await connection.execute(select(product_t).order_by(product_t.c.position, product_t.c.id)):
        products[row.id] = ProductView(
            id=row.id,
            slug=row.slug,
            name=row.name,
            description=row.description,
            active=row.active,
            images=tuple(images.get(row.id, ())),
            variants=tuple(on_sale.get(row.id, ())),
        )
    listing = tuple(product for product in products.values() if product.active and product.variants)
    return CatalogSnapshot(
        revision=revision,
        listing=listing,
        by_slug={product.slug: product for product in listing},
        products=products,
        variants=variants,
    )


class Catalog:
    """One per worker. Knowing the revision costs one tiny read (pages get it within their one
    read, `storefront/page_state.py`); a reload happens only after a change."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.snapshot = CatalogSnapshot(revision=-1)
        self._reloading = asyncio.Lock()

    async def current(self, connection: DbConnection) -> CatalogSnapshot:
        return await self.at_revision(connection, await read_revision(connection))

    async def at_revision(self, connection: DbConnection, revision: int) -> CatalogSnapshot:
        """The snapshot for a revision just read from the database, reloaded if this worker's is older."""
        if revision != self.snapshot.revision:
            async with self._reloading:
                if revision != self.snapshot.revision:
                    self.snapshot = await load_snapshot(connection)
                    # A large catalogue is tens of thousands of long-lived objects; the cyclic
                    # garbage collector would walk them all on every full collection, stalling
                    # requests. Frozen objects are left out of those walks.
                    gc.collect()
                    gc.freeze()
        return self.snapshot
