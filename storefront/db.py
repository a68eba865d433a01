"""Database access: advanced-alchemy for the ORM and migrations, plain Core for the hot paths.

Two ways in, one database:

* `alchemy_config` is advanced-alchemy's async config. It owns the Alembic migrations
  (`python -m storefront database upgrade`) and hands an `AsyncSession` to code that works
  with ORM objects (the CSV import, later the checkout).
* `Database` runs the few small Core statements every page needs fresh (the cart, stock,
  the catalogue revision, an order). On PostgreSQL its writes use the same async engine and its
  reads a second pool of connections in autocommit. On SQLite it uses the
  standard `sqlite3` driver directly in the event loop: a read of a local file takes
  microseconds, while aiosqlite pays two thread hand-overs per statement, which made pages
  several times slower (measured with `make bench`). SQLite is the laptop and
  single-worker database; production runs PostgreSQL.
* `HotRead` is for the one or two reads of every request (the page state, the health check):
  written in Core like the rest, compiled once per database to the driver's SQL and run on the
  driver's own connection. SQLAlchemy's work around a statement (a pooled connection, the
  compiled-cache lookup, the result objects) takes tens of microseconds; such a read on SQLite
  takes one or two (measured: `SELECT 1` 91 µs through `Database.read()`, 1.4 µs on the driver).
  `HotWrite` is its counterpart for a write that one PostgreSQL statement can make (adding to
  the cart): one round trip instead of BEGIN, the statements and COMMIT.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Never, TypeVar, TypeVarTuple, overload
from typing import cast as cast_type

import asyncpg
from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
)
from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Integer,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    literal_column,
    make_url,
    null,
    select,
    union_all,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import ClauseElement, CompoundSelect, Executable, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import TypedReturnsRows

from storefront.settings import ROOT

MIGRATIONS_DIR = ROOT / "storefront" / "migrations"

# Writers wait this long for SQLite's single write lock before giving up with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5_000

# PostgreSQL connections per worker: for transactions, for reads, and for the hot reads. Four
# workers hold at most 88, within PostgreSQL's default max_connections of 100.
POOL_SIZE, READ_POOL_SIZE, HOT_POOL_SIZE = 10, 6, 6

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
    if is_sqlite(url):
        engine = create_async_engine(driver_url(url, use_async=True))
        _configure_sqlite(engine.sync_engine)
        return engine
    # Every connection is kept once opened (no overflow): an overflow connection is closed when
    # it is returned to a full pool, so a busy worker would open and close one, with PostgreSQL's
    # handshake and asyncpg's type lookups, for most requests. A connection the server has closed
    # is replaced when taken from the pool, by a local check: SQLAlchemy's ping would cost three
    # round trips (BEGIN, a statement, ROLLBACK) before every transaction.
    engine = create_async_engine(driver_url(url, use_async=True), pool_size=POOL_SIZE, max_overflow=0)
    event.listen(engine.sync_engine, "checkout", _replace_if_closed)
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


class _HotStatement:
    """A statement made on (nearly) every request. `build(dialect_name)` gives its Core statement,
    whose parameters are plain values: a list of ids is one parameter, `Database.id_list(ids)`,
    read with `Database.in_id_list(dialect_name, column, name)` (no expanding `IN`, which
    SQLAlchemy renders anew each time). `name` tells it apart in logs and profiles."""

    __slots__ = ("build", "name")

    def __init__(self, name: str, build: Callable[[str], ClauseElement]) -> None:
        self.name = name
        self.build = build


class HotRead(_HotStatement):
    """A read: `Database.hot_rows`. On PostgreSQL, tried once more on a fresh connection if the
    one it had was lost."""

    __slots__ = ()


class HotWrite(_HotStatement):
    """A write of one statement, in a transaction of its own: `Database.hot_write` (PostgreSQL).
    One round trip, where BEGIN, the statements and COMMIT through the engine take several."""

    __slots__ = ()


class _Compiled:
    """A hot statement's SQL for one driver, with its parameters in order: a name the caller gives,
    or a value the statement itself holds (`revision.id == 1`); and, when a column's type reads
    the driver's value into another (a date on SQLite), how, as SQLAlchemy would."""

    __slots__ = ("parameters", "processors", "sql")

    def __init__(
        self, sql: str, parameters: Sequence[tuple[str, Any]], processors: Sequence[Callable[[Any], Any] | None]
    ) -> None:
        self.sql = sql
        self.parameters = tuple(parameters)
        self.processors = tuple(processors) if any(processors) else None

    def processed(self, rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
        """The driver's rows with each value read by its column's type."""
        if self.processors is None:
            return rows
        processors = self.processors
        return [
            [value if process is None else process(value) for process, value in zip(processors, row, strict=True)]
            for row in rows
        ]


_GIVEN = object()  # a parameter the caller gives


class Database:
    """Short Core transactions for the request paths that must be fresh."""

    def __init__(self, url: str, async_engine: AsyncEngine | None = None) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        self.async_engine = async_engine or create_async_db_engine(url)
        self._sync_engine: Engine | None = None
        self._compiled: dict[_HotStatement, _Compiled] = {}
        self._readers = threading.local()  # SQLite: each thread's own driver connection for hot reads
        self._read_engine: AsyncEngine | None = None
        self._hot_idle: list[asyncpg.Connection] = []  # PostgreSQL: connections for hot reads, not in use
        if self.sqlite:
            self._sync_engine = create_engine(driver_url(url, use_async=False), pool_size=4, max_overflow=4)
            _configure_sqlite(self._sync_engine)
        else:
            # PostgreSQL: reads run in autocommit, outside any transaction, so each statement is
            # one round trip, with neither BEGIN before nor ROLLBACK after, and a connection needs
            # no ping when taken from the pool (with one, a read of one statement cost five round
            # trips). A connection the server has closed is replaced when taken; one that breaks
            # under a read fails it (a hot read is tried once more on a fresh one).
            self._read_engine = create_async_engine(
                driver_url(url, use_async=True),
                isolation_level="AUTOCOMMIT",
                pool_pre_ping=False,
                pool_reset_on_return=None,
                pool_size=READ_POOL_SIZE,
                max_overflow=0,
            )
            event.listen(self._read_engine.sync_engine, "checkout", _replace_if_closed)
            # The hot reads keep driver connections of their own: a read takes the one returned
            # last, with neither SQLAlchemy's checkout (155 µs of the worker's time per read,
            # measured) nor asyncpg's pool (110 µs) around it.
            self._hot_connect = self._read_engine.dialect.create_connect_args(self._read_engine.url)[1]
            if "prepared_statement_cache_size" in self._hot_connect:  # SQLAlchemy's name for asyncpg's setting
                self._hot_connect["statement_cache_size"] = self._hot_connect.pop("prepared_statement_cache_size")
            # asyncpg prepares each hot statement once per connection. Left to choose (plan_cache_mode
            # auto), PostgreSQL planned the page state afresh on every run in a shop of 10,000
            # products, its generic plan looking dearer on paper than the custom ones: 241 µs of
            # the server's time per read instead of 87-107 (measured, 10,000 reads in a row). The
            # hot statements look rows up by key and the generic plan takes the same index scans
            # (EXPLAIN), so these connections plan each statement once.
            self._hot_connect["server_settings"] = {
                **self._hot_connect.get("server_settings", {}),
                "plan_cache_mode": "force_generic_plan",
            }
            # Requests wait for a connection here, first come first served. In a pool's own
            # asyncio queue one woken for a returned connection can lose it to one who just
            # arrived and go to the back of the line (measured with 32 visitors at once in
            # asyncpg's pool: the status poll's p99 went from 1.2 s to 59 ms with a turn taken here).
            self._hot_turns = asyncio.Semaphore(HOT_POOL_SIZE)
            self._read_turns = asyncio.Semaphore(READ_POOL_SIZE)
            self._write_turns = asyncio.Semaphore(POOL_SIZE)
        # SQLite: one writer at a time for the whole file. This worker's writers take turns here,
        # awaiting, before they ask SQLite for the lock: a writer on the inline connection waits
        # for that lock inside the event loop (the busy timeout), and the writer holding it, a
        # product save on the async engine between two of its statements, could then never go on
        # to commit. Writers in other processes (the command line, other workers) are waited for
        # by the busy timeout.
        self._sqlite_writer = asyncio.Lock()
        self._sqlite_writing: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[DbConnection]:
        """A connection for a few small reads, each standing alone (autocommit, no BEGIN): the
        reads of a page (an order, its lines, its payments) need no common snapshot, and a
        transaction would cost more than the reads themselves. Nothing is written here."""
        if self._sync_engine is not None:
            with self._sync_engine.connect().execution_options(sqlite_begin=None) as sync_connection:
                yield _InlineSQLiteConnection(sync_connection)
            return
        assert self._read_engine is not None
        async with self._read_turns, self._read_engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[DbConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        if self._sync_engine is not None:
            async with self._sqlite_turn():
                with (
                    self._sync_engine.connect().execution_options(sqlite_begin="IMMEDIATE") as sync_connection,
                    sync_connection.begin(),
                ):
                    yield _InlineSQLiteConnection(sync_connection)
            return
        async with self._write_turns, self.async_engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def writing_session(self, config: SQLAlchemyAsyncConfig) -> AsyncIterator[AsyncSession]:
        """An ORM session of `config` (on this database's engine) for work that reads and then
        writes (saving a product, importing a file). On SQLite its transaction takes the write
        lock when it begins: SQLite cannot turn a read into a write once another writer has
        committed since the read, and fails at once with "database is locked" instead of waiting.
        This worker's other writers wait for their turn meanwhile."""
        if not self.sqlite:
            async with config.get_session() as session:
                yield session
            return
        async with self._sqlite_turn(), config.get_session() as session:
            await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session

    @asynccontextmanager
    async def _sqlite_turn(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._sqlite_writing:
            # It would wait for itself for ever.
            raise RuntimeError("this task is already writing to SQLite: finish that write first")
        async with self._sqlite_writer:
            self._sqlite_writing = task
            try:
                yield
            finally:
                self._sqlite_writing = None

    def id_list(self, ids: Sequence[int]) -> Any:
        """A list of ids as one parameter of a `HotRead`: JSON text for SQLite, an array for PostgreSQL."""
        return json.dumps(list(ids)) if self.sqlite else list(ids)

    @staticmethod
    def in_id_list(dialect: str, column: Any, name: str) -> Any:
        """`column IN (the ids of parameter name)`, written for one dialect."""
        if dialect == "sqlite":
            return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))
        return column == any_(cast(bindparam(name), ARRAY(Integer)))

    @staticmethod
    def stacked(parts: Sequence[Select[Any]]) -> CompoundSelect[Any]:
        """One statement of several reads whose columns differ (UNION ALL): every part gets every
        part's columns, in the order first met, its own where it has them and elsewhere a NULL cast
        to the column's type (PostgreSQL needs the type to join the parts, and the values of every
        row are read by the first part's types). Each part says in a column of its own which it is."""
        types: dict[str, Any] = {}
        for part in parts:
            for column in part.selected_columns:
                types.setdefault(column.name, column.type)
        return union_all(
            *(
                part.with_only_columns(
                    *(
                        part.selected_columns[name] if name in part.selected_columns else null().cast(kind).label(name)
                        for name, kind in types.items()
                    ),
                    maintain_column_froms=True,
                )
                for part in parts
            )
        )

    def _compile(self, query: _HotStatement) -> _Compiled:
        compiled = self._compiled.get(query)
        if compiled is None:
            dialect = (self._sync_engine or self.async_engine).dialect
            statement = cast_type(SQLCompiler, query.build(dialect.name).compile(dialect=dialect))
            binds = statement.binds
            order = [
                (name, _GIVEN if binds[name].value is None else binds[name].effective_value)
                for name in statement.positiontup or ()
            ]
            processors = [
                column.type._cached_result_processor(dialect, None)  # the same as SQLAlchemy's own results use
                for column in statement._result_columns
            ]
            compiled = self._compiled[query] = _Compiled(statement.string, order, processors)
        return compiled

    async def hot_rows(self, query: HotRead, **parameters: Any) -> Sequence[Sequence[Any]]:
        """The rows of a hot read (indexable by position), each value read by its column's type."""
        compiled = self._compile(query)
        return compiled.processed(await self._driver_rows(compiled, parameters, attempts=2))

    async def hot_write(self, query: HotWrite, **parameters: Any) -> Sequence[Sequence[Any]]:
        """Run a hot write and return the rows it returns. PostgreSQL only: SQLite has no
        statement that writes two tables, so its writers use `write()`, which costs it no round trip.
        Tried once: a connection lost under it may have committed it, and a second try would
        apply it twice."""
        if self.sqlite:
            raise TypeError(f"{query.name}: a hot write needs PostgreSQL")
        compiled = self._compile(query)
        return compiled.processed(await self._driver_rows(compiled, parameters, attempts=1))

    async def _driver_rows(
        self, compiled: _Compiled, parameters: dict[str, Any], *, attempts: int
    ) -> Sequence[Sequence[Any]]:
        """The rows of a hot statement as the driver gives them; on PostgreSQL, tried up to
        `attempts` times when the connection is lost."""
        values = [parameters[name] if fixed is _GIVEN else fixed for name, fixed in compiled.parameters]
        if self._sync_engine is not None:
            try:
                return self._reader().execute(compiled.sql, values).fetchall()
            except sqlite3.Error as error:
                self._drop_reader()  # a fresh connection next time
                unreachable = isinstance(error, sqlite3.OperationalError)
                raise _translated(compiled.sql, error, unreachable=unreachable) from error
        for attempt in range(1, attempts + 1):
            try:
                async with self._hot_turns:
                    driver = await self._hot_connection()
                    try:
                        rows = cast_type(Sequence[Sequence[Any]], await driver.fetch(compiled.sql, *values))
                    except BaseException:
                        if not driver.is_closed():
                            driver.terminate()  # in doubt, not used again
                        raise
                    self._hot_idle.append(driver)
                return rows
            # (InternalClientError: the server ended the connection while asyncpg was between the
            # states of a query; seen when a backend is terminated.)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as error:
                lost = not isinstance(error, asyncpg.PostgresError) or isinstance(
                    error, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError
                )
                if not lost or attempt == attempts:
                    raise _translated(compiled.sql, error, unreachable=lost) from error
        raise AssertionError("unreachable")

    async def _hot_connection(self) -> asyncpg.Connection:
        """An idle connection for a hot read, the one used last first; one the server has closed
        is dropped. A new one only when none is idle: with the turns above, a worker never
        holds more than HOT_POOL_SIZE."""
        while self._hot_idle:
            driver = self._hot_idle.pop()
            if not driver.is_closed():
                return driver
        return await asyncpg.connect(**self._hot_connect)

    def _reader(self) -> sqlite3.Connection:
        """This thread's SQLite connection for hot reads, kept open: in autocommit, so each read
        sees everything committed before it, and fully fetched, so none holds a snapshot."""
        reader: sqlite3.Connection | None = getattr(self._readers, "connection", None)
        if reader is None:
            assert self._sync_engine is not None
            pooled = self._sync_engine.raw_connection()  # configured by the engine's connect hook
            self._readers.pooled = pooled  # kept checked out for the worker's life
            reader = self._readers.connection = cast_type(sqlite3.Connection, pooled.driver_connection)
        return reader

    async def ping(self) -> None:
        """Raises unless the database answers."""
        await self.hot_rows(_PING)

    def _drop_reader(self) -> None:
        pooled = getattr(self._readers, "pooled", None)
        if pooled is not None:
            pooled.invalidate()
            self._readers.pooled = self._readers.connection = None

    async def dispose(self) -> None:
        self._drop_reader()
        if self._read_engine is not None:
            while self._hot_idle:
                await self._hot_idle.pop().close()
            await self._read_engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        await self.async_engine.dispose()


def _replace_if_closed(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """Pool hook: a connection whose socket the server has closed (a restart, an idle timeout)
    is not handed out; the pool opens a fresh one instead. A local check, no round trip."""
    driver = record.driver_connection
    if driver is None or cast_type(asyncpg.Connection, driver).is_closed():
        raise sa_exc.DisconnectionError("the server closed this connection")


def _translated(sql: str, error: Exception, *, unreachable: bool) -> sa_exc.DBAPIError:
    """A driver's error as SQLAlchemy's, so a hot read that fails is handled like any other read
    (an unreachable database is a 503 page)."""
    kind = sa_exc.OperationalError if unreachable else sa_exc.DBAPIError
    return kind(sql, None, error)


_PING = HotRead("ping", lambda _dialect: select(literal_column("1")))
