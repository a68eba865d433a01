"""`create_app(settings)`: the one place that wires the shop together."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from jinja2 import Environment
from litestar import Litestar, MediaType, Request, Response, Router, get, post
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, State, UploadFile
from litestar.di import Provide
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.logging import LoggingConfig
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from storefront import twint
from storefront.admin.accounts import end_idle_sessions
from storefront.admin.routes import admin_router
from storefront.assets import AssetManifest, serve_asset
from storefront.cart.routes import add_line, cart_badge, cart_page, delete_line, update_line
from storefront.cart.service import expire_carts
from storefront.catalog.pictures import WIDTHS, is_media, media_url
from storefront.catalog.routes import (
    answer_stock_alert,
    ask_for_stock_alert,
    catalog_page,
    product_page,
    stock_alert_page,
)
from storefront.catalog.service import Catalog
from storefront.checkout.routes import checkout_page, checkout_return, place
from storefront.cli import StorefrontCLIPlugin
from storefront.db import Database, create_async_db_engine, make_alchemy_config
from storefront.errors import html_exception_handler
from storefront.head_requests import AnswerHeadAsGet
from storefront.i18n import current_language, gettext, localized, ngettext, saved_language, use_language_of
from storefront.legal import legal_page
from storefront.logs import install_redaction
from storefront.money import SWISS_TIME, format_chf, format_rate, plain_chf
from storefront.orders.emails import OutboxSender
from storefront.orders.reconciler import INTERVAL_S, reconcile
from storefront.orders.refunds import settle_refunds
from storefront.orders.routes import hand_over, order_page, order_status, pay_page, retry_payment
from storefront.orders.stock_alerts import notify_back_in_stock
from storefront.payments.gateway import StripeGateway
from storefront.payments.routes import stripe_webhook
from storefront.periodic import Periodic
from storefront.security_headers import add_security_headers, security_headers
from storefront.settings import LANGUAGES, ROOT, Settings
from storefront.shipping import COUNTRIES, shipping_method
from storefront.shop import Shop, provide_shop

logger = logging.getLogger("storefront")

TEMPLATES_DIR = ROOT / "templates"
MAX_BODY_BYTES = 64 * 1024  # forms here are small; anything larger is refused with 413


def configure_templates(assets: AssetManifest, *, reload: bool = False) -> Callable[[JinjaTemplateEngine], None]:
    """`reload`: look for a changed template file on every render (while developing); otherwise
    each template is read once per worker, which saves a few file-system calls per page."""

    def callback(engine: JinjaTemplateEngine) -> None:
        env: Environment = engine.engine
        env.auto_reload = reload
        env.add_extension("jinja2.ext.i18n")
        env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
        env.trim_blocks = True
        env.lstrip_blocks = True
        env.filters["chf"] = lambda rappen, whole=False: format_chf(rappen, current_language(), whole=whole)
        env.filters["rate"] = format_rate
        env.filters["plain_chf"] = plain_chf
        env.filters["localtime"] = lambda at: at.astimezone(SWISS_TIME).strftime("%d.%m.%Y %H:%M")
        env.filters["localdate"] = lambda at: at.astimezone(SWISS_TIME).strftime("%d.%m.%Y")
        env.globals["asset_url"] = assets.url
        env.globals["lang_url"] = localized  # a customer page's address in the page's language

        def lang_of(text_language: str) -> Markup | str:
            """` lang="en"` on an element whose text is not in the page's language (a product the
            shop has not written in it), so screen readers and translators read it right."""
            return Markup(' lang="{}"').format(text_language) if text_language != current_language() else ""

        env.globals["lang_of"] = lang_of
        env.globals["shipping_method"] = shipping_method
        env.globals["country_name"] = lambda code: gettext(COUNTRIES[code]) if code in COUNTRIES else code

        def picture_url(path: str, width: int) -> str:
            """A product picture in one of the storefront's widths (a drawing under assets/ has one)."""
            return media_url(path, width) if is_media(path) else assets.url(path)

        def picture_srcset(path: str, width: int) -> str:
            """The same picture for screens of twice the density, when there is one."""
            return f"{media_url(path, width * 2)} 2x" if is_media(path) and width * 2 in WIDTHS else ""

        env.globals["picture_url"] = picture_url
        env.globals["picture_srcset"] = picture_srcset
        env.globals["twint"] = twint

    return callback


def _media_router(settings: Settings) -> Router:
    """Uploaded product pictures: named by their content, so cached for a year."""
    media_dir = Path(settings.media_dir)
    media_dir.mkdir(parents=True, exist_ok=True)
    return create_static_files_router(
        path="/media",
        directories=[media_dir],
        name="media",
        cache_control=CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True),
        include_in_schema=False,
    )


_NUL_IN_QUERY = re.compile(rb"\x00|%00", re.IGNORECASE)  # as sent or percent-encoded


async def _refuse_malformed_input(request: Request[Any, Any, Any]) -> None:
    """Input no form of the shop can mean is refused with 400 before a handler runs: a NUL
    character in the address, the query or a form field (no text holds one, and PostgreSQL refuses
    to store it), and a file where a value belongs. Only the forms that upload something (their
    handlers say `opt={"uploads": True}`) take files; multipart text fields, as a script's
    `FormData` sends them, are fine. Litestar parses a form once per request, so reading it here
    costs nothing more."""
    scope = request.scope
    if "\x00" in scope["path"] or _NUL_IN_QUERY.search(scope["query_string"]):
        raise ClientException("the address holds a NUL character")
    if scope["method"] in ("GET", "HEAD"):
        return  # no form to read
    kind = request.content_type[0]
    if kind not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return
    takes_files = kind == "multipart/form-data" and request.route_handler.opt.get("uploads")
    for _, value in (await request.form()).multi_items():
        if isinstance(value, UploadFile):
            if not takes_files:
                raise ClientException("this form takes no files")
        elif "\x00" in value:
            raise ClientException("a form field holds a NUL character")


async def _choose_language(request: Request[Any, Any, Any]) -> None:
    await _refuse_malformed_input(request)
    use_language_of(request, request.app.state.shop.settings.default_language)


async def _language_of_the_address(request: Request[Any, Any, Any]) -> None:
    if request.path_params.get("language") not in LANGUAGES:
        raise NotFoundException()
    await _refuse_malformed_input(request)
    use_language_of(request, request.app.state.shop.settings.default_language)


# The customer's pages and forms, each under its language: /de/, /fr/products/alpine-honey, /it/cart.
customer_router = Router(
    "/{language:str}",
    route_handlers=[
        catalog_page,
        product_page,
        ask_for_stock_alert,
        stock_alert_page,
        answer_stock_alert,
        cart_page,
        cart_badge,
        add_line,
        update_line,
        delete_line,
        legal_page,
        checkout_page,
        place,
        checkout_return,
        pay_page,
        hand_over,
        retry_payment,
        order_page,
        order_status,
    ],
    before_request=_language_of_the_address,
)


@get("/", name="root", include_in_schema=False)
async def root(request: Request[Any, Any, Any]) -> Redirect:
    """The catalogue in the visitor's saved language, else the first of their browser's we speak."""
    return Redirect(_same_address_in_a_language(request), status_code=302, headers={"Vary": "Cookie, Accept-Language"})


def _same_address_in_a_language(request: Request[Any, Any, Any]) -> str:
    query = request.scope["query_string"].decode("latin-1")
    return localized(
        request.scope["path"], saved_language(request, request.app.state.shop.settings.default_language)
    ) + (f"?{query}" if query else "")


# Addresses from before the language was part of them (bookmarks, shared links, a TWINT payment
# started before an update) lead to the same page in the visitor's language.
OLD_PAGES = [
    "/products/{slug:str}",
    "/cart",
    "/checkout",
    "/checkout/return",
    "/orders/{token:str}",
    "/orders/{token:str}/pay",
    "/orders/{token:str}/status",
    "/legal/{page:str}",
]
OLD_FORMS = [
    "/cart/lines",
    "/cart/lines/{line:str}",
    "/cart/lines/{line:str}/delete",
    "/checkout",
    "/orders/{token:str}/payment",
]


@get(OLD_PAGES, name="old_page", include_in_schema=False)
async def old_page(request: Request[Any, Any, Any]) -> Redirect:
    return Redirect(_same_address_in_a_language(request), status_code=301, headers={"Vary": "Cookie, Accept-Language"})


@post(OLD_FORMS, name="old_form", include_in_schema=False)
async def old_form(request: Request[Any, Any, Any]) -> Redirect:
    """A form of a page loaded before: 308 sends it on with its method and fields."""
    return Redirect(_same_address_in_a_language(request), status_code=308)


async def _nothing_to_check(_request: Request[Any, Any, Any]) -> None:
    """The health check takes no input and speaks no language: it skips the pages' preparations."""


_NO_STORE = {"Cache-Control": "no-store"}
_HEALTHY = b'{"status":"ok","database":"ok"}'
_UNHEALTHY = b'{"status":"unavailable","database":"unreachable"}'


class DatabaseHealth:
    """Whether the database answers, asked at most once per `ttl_s` in each worker: `/healthz` is
    public, and a flood of health checks must not become a flood of database round trips. The
    answer is at most that old (as with Spring Boot's cached health endpoint)."""

    def __init__(self, database: Database, ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.database = database
        self.ttl_s = ttl_s
        self.clock = clock
        self._answer = False
        self._until = -math.inf

    async def reachable(self) -> bool:
        if self.clock() >= self._until:
            try:
                await self.database.ping()
                self._answer = True
            except Exception:
                self._answer = False
            self._until = self.clock() + self.ttl_s
        return self._answer


def health_check(health: DatabaseHealth) -> HTTPRouteHandler:
    """`/healthz`, for a load balancer or monitor, asked every few seconds: kept as light as the
    framework allows. Bound to its app's `health`, it takes no parameter, so Litestar reads nothing
    of the request for it."""

    @get("/healthz", name="healthz", include_in_schema=False, before_request=_nothing_to_check)
    async def healthz() -> Response[bytes]:
        if await health.reachable():
            return Response(_HEALTHY, media_type=MediaType.JSON, headers=_NO_STORE)
        return Response(_UNHEALTHY, status_code=503, media_type=MediaType.JSON, headers=_NO_STORE)

    return healthz


class TokenCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF check, except that a token with characters beyond ASCII is refused like any
    other wrong token (403) instead of failing inside `secrets.compare_digest`, which takes only
    ASCII strings."""

    def _decode_csrf_token(self, token: str) -> str | None:
        return super()._decode_csrf_token(token) if token.isascii() else None


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    install_redaction()
    engine = create_async_db_engine(settings.database_url)
    database = Database(settings.database_url, async_engine=engine)
    alchemy = make_alchemy_config(engine)
    shop = Shop(
        settings=settings,
        database=database,
        catalog=Catalog(database, LANGUAGES, settings.default_language),
        assets=AssetManifest(),
        payments=StripeGateway(settings),
    )
    outbox = OutboxSender(
        database,
        f"{settings.shop_name} <{settings.company_email}>",
        Path(settings.outbox_dir),
        settings.smtp_url,
        owner=settings.notify_address,
    ).periodic()
    window = dt.timedelta(minutes=settings.twint_window_minutes)

    async def reconcile_round() -> None:
        report = await reconcile(
            database, shop.payments, window, pay_within=dt.timedelta(minutes=settings.pay_within_minutes)
        )
        if report.outcomes:
            logger.info("reconciler: %s", report.outcomes)
        refunds = await settle_refunds(database, shop.payments)
        if refunds:
            logger.info("reconciler, refunds: %s", refunds)
        await end_idle_sessions(database, dt.timedelta(hours=settings.staff_session_hours))
        expired = await expire_carts(database, dt.timedelta(days=settings.cart_days))
        if expired:
            logger.info("reconciler: %d cart(s) unchanged for %d days deleted", expired, settings.cart_days)

    # Every minute in each worker, the first round a while after start-up.
    reconciling = Periodic("reconciler", reconcile_round, INTERVAL_S, first_delay_s=INTERVAL_S)

    async def stock_alert_round() -> None:
        await notify_back_in_stock(database, shop.catalog, settings.base_url)

    alerting = Periodic("stock alerts", stock_alert_round, settings.stock_alert_interval_s)

    async def close_database() -> None:
        await database.dispose()

    app = Litestar(
        route_handlers=[
            customer_router,
            root,
            old_page,
            old_form,
            stripe_webhook,
            health_check(DatabaseHealth(database)),
            serve_asset,
            _media_router(settings),
            admin_router,
        ],
        plugins=[HTMXPlugin(), SQLAlchemyPlugin(config=alchemy), StorefrontCLIPlugin()],
        dependencies={"shop": Provide(provide_shop, sync_to_thread=False)},
        state=State({"shop": shop, "shop_alchemy": alchemy}),
        template_config=TemplateConfig(
            directory=Path(TEMPLATES_DIR),
            engine=JinjaTemplateEngine,
            engine_callback=configure_templates(shop.assets, reload=settings.debug),
        ),
        # Level 6, zlib's default: as small as level 9 on these pages to a few bytes, in less time
        # (a product page: 32 µs instead of 53 µs). The health check's few bytes never reach the
        # minimum size; left out, it skips the middleware's reading of the request's headers.
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=1024, gzip_compress_level=6, exclude="^/(assets/|media/|healthz$)"
        )
        if settings.compress
        else None,
        exception_handlers={HTTPException: html_exception_handler, Exception: html_exception_handler},
        before_request=_choose_language,
        before_send=[add_security_headers(security_headers(settings))],
        middleware=[
            DefineMiddleware(
                TokenCSRFMiddleware,
                config=CSRFConfig(
                    secret=settings.secret_key,
                    cookie_secure=settings.secure_cookies,
                    cookie_httponly=True,
                    cookie_samesite="lax",
                    exclude=["/healthz", "/assets/", "/media/"],
                ),
            )
        ],
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=LoggingConfig(
            log_exceptions="never", loggers={"storefront": {"level": "INFO", "propagate": True}}
        ),
        on_startup=[reconciling.start, outbox.start, alerting.start],
        on_shutdown=[reconciling.stop, outbox.stop, alerting.stop, close_database],
        debug=settings.debug,
    )
    app.asgi_handler = AnswerHeadAsGet(app.asgi_handler)
    return app
