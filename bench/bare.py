"""The bare framework: the benchmark's ceilings (`bench/ceilings.py`) served by a Litestar app with
no middleware, no plugins, no hooks and no exception handlers, only the shop's Jinja2 templates
set up as the shop sets them up. Served by uvicorn exactly as the shop is, it is the most Litestar
and Jinja2 can do with these pages on this machine."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from bench.app import CEILING_PATH
from bench.ceilings import ceiling_router
from storefront.app import TEMPLATES_DIR, configure_templates
from storefront.assets import AssetManifest
from storefront.db import Database, create_async_db_engine
from storefront.settings import Settings


def create_bare_app() -> Litestar:
    settings = Settings.from_env()
    database = Database(settings.database_url, async_engine=create_async_db_engine(settings.database_url))
    return Litestar(
        route_handlers=[ceiling_router(CEILING_PATH, database, settings)],
        template_config=TemplateConfig(
            directory=Path(TEMPLATES_DIR),
            engine=JinjaTemplateEngine,
            engine_callback=configure_templates(AssetManifest()),
        ),
        on_shutdown=[database.dispose],
    )
