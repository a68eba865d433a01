"""Database access: advanced-alchemy for the ORM and migrations, plain Core for the hot paths.

Two ways in, one database:

* `alchemy_config` is advanced-alchemy's async config. It owns the Alembic migrations
  (`python -m storefront database upgrade`) and hands an `AsyncSession` to code that works
  with ORM objects (the CSV import, later the checkout).
* `Database` runs the few small Core statements every page needs fresh (the cart, stock,
  the catalogue revision). On PostgreSQL it uses the same async engine. On SQLite it uses the
  standard `sqlite3` driver directly in the event loop: a read of a local file takes
  microseconds, while aiosqlite pays two thread hand-overs per statement, which made pages
  several times slower (measured with `make bench`). SQLite is the laptop and
  single-worker database; production runs PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Never, TypeVar, TypeVarTuple, overload

from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
)
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows

from storefront.settings import ROOT

MIGRATIONS_DIR = ROOT / "storefront" / "migrations"

# Writers wait this long for SQLite's single write lock before giving up with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5_000

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


def driver_url(url: str, *, use_async: bool) -> URL:
    """Map the operator's `sqlite:///…` or `postgresql://…` to the driver this code uses."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite" if use_async else "sqlite+pysqlite")
    return parsed.set(drivername="postgresql+asyncpg")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _configure_sqlite(engine: Engine) -> None:
    """WAL lets readers go on while one writer writes; transactions are begun explicitly so a
    writer can take the lock up front (BEGIN IMMEDIATE) instead of failing half-way."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode is not None:  # None: each statement on its own (autocommit), for the hot reads
            connection.exec_driver_sql(f"BEGIN {mode}")


def create_async_db_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(driver_url(url, use_async=True), pool_pre_ping=not is_sqlite(url))
    if is_sqlite(url):
        _configure_sqlite(engine.sync_engine)
    return engine


def make_alchemy_config(engine: AsyncEngine) -> SQLAlchemyAsyncConfig:
    return SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        # Handlers that write commit explicitly in their service; nothing is committed implicitly.
        before_send_handler=None,
        alembic_config=AlembicAsyncConfig(
            script_location=str(MIGRATIONS_DIR),
            script_config=str(MIGRATIONS_DIR / "alembic.ini"),
            version_table_name="alembic_version",
        ),
    )


class _InlineSQLiteConnection:
    """The async face of a sync SQLite connection, so services are written once for both databases."""

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # Typed as `AsyncConnection.execute` and `.scalar` are, so a typed statement gives typed rows either way.
    @overload
    async def execute(self, statement: TypedReturnsRows[*_Ts], parameters: Any = None) -> CursorResult[*_Ts]: ...
    @overload
    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[*tuple[Any, ...]]: ...
    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[*tuple[Any, ...]]:
        return self._connection.execute(statement, parameters)

    @overload
    async def scalar(self, statement: TypedReturnsRows[Never], parameters: Any = None) -> Any | None: ...
    @overload
    async def scalar(self, statement: TypedReturnsRows[_T], parameters: Any = None) -> _T | None: ...
    @overload
    async def scalar(self, statement: Executable, parameters: Any = None) -> Any: ...
    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return self._connection.scalar(statement, parameters)


DbConnection = AsyncConnection | _InlineSQLiteConnection


class Database:
    """Short Core transactions for the request paths that must be fresh."""

    def __init__(self, url: str, async_engine: AsyncEngine | None = None) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        self.async_engine = async_engine or create_async_db_engine(url)
        self._sync_engine: Engine | None = None
        if self.sqlite:
            self._sync_engine = create_engine(driver_url(url, use_async=False), pool_size=4, max_overflow=4)
            _configure_sqlite(self._sync_engine)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[DbConnection]:
        """A connection for a few small reads. On SQLite each read stands alone (no BEGIN): a page's
        reads (catalogue revision, stock, cart) need no common snapshot, and a transaction would
        cost more than the reads themselves."""
        if self._sync_engine is not None:
            with self._sync_engine.connect().execution_options(sqlite_begin=None) as sync_connection:
                yield _InlineSQLiteConnection(sync_connection)
            return
        async with self.async_engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[DbConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        if self._sync_engine is not None:
            with (
                self._sync_engine.connect().execution_options(sqlite_begin="IMMEDIATE") as sync_connection,
                sync_connection.begin(),
            ):
                yield _InlineSQLiteConnection(sync_connection)
            return
        async with self.async_engine.begin() as connection:
            yield connection

    async def dispose(self) -> None:
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        await self.async_engine.dispose()
