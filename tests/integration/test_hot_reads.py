"""The reads every request makes run on the driver's own connection: they must see every commit,
fail like any other read, and get a working connection again after a failure."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Column, Integer, MetaData, Table, column, exc, func, literal_column, select, table, text

from storefront.cart.page_reads import _PAGE_STATE, page_state_parameters
from storefront.db import HOT_POOL_SIZE, POOL_SIZE, READ_POOL_SIZE, Database, HotRead, HotWrite, make_alchemy_config
from tests.support.db import query

probe_t = table("hot_read_probe", column("id", Integer))
BACKEND = HotRead("backend", lambda _dialect: select(func.pg_backend_pid()))
BACKENDS_OF_DATABASE = HotRead(
    "backends", lambda _dialect: text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
)
PING_ONE = HotRead("one", lambda _dialect: select(literal_column("1")))
PROBE = HotRead("probe", lambda dialect: select(probe_t.c.id).where(Database.in_id_list(dialect, probe_t.c.id, "ids")))


async def _run(database: Database, sql: str) -> None:
    async with database.write() as connection:
        await connection.execute(text(sql))


def test_a_hot_read_sees_each_commit_and_recovers_after_a_failure(settings):
    async def scenario() -> None:
        database = Database(settings.database_url)
        try:
            await _run(database, "DROP TABLE IF EXISTS hot_read_probe")
            with pytest.raises(exc.DBAPIError):
                await database.hot_rows(PROBE, ids=database.id_list([1]))  # the table is not there yet
            await _run(database, "CREATE TABLE hot_read_probe (id INTEGER)")
            await _run(database, "INSERT INTO hot_read_probe VALUES (1), (2), (3)")
            assert sorted(row[0] for row in await database.hot_rows(PROBE, ids=database.id_list([1, 3, 9]))) == [1, 3]
            await _run(database, "DELETE FROM hot_read_probe WHERE id = 3")
            assert [row[0] for row in await database.hot_rows(PROBE, ids=database.id_list([1, 3]))] == [1]
            assert await database.hot_rows(PROBE, ids=database.id_list([])) == []
        finally:
            await _run(database, "DROP TABLE IF EXISTS hot_read_probe")
            await database.dispose()

    asyncio.run(scenario())


def test_a_hot_read_gets_a_working_connection_after_the_server_dropped_its_own(settings):
    async def scenario() -> None:
        database, other = Database(settings.database_url), Database(settings.database_url)
        try:
            await database.ping()
            if database.sqlite:  # the held connection breaks under the reader: that read fails, the next works
                database._reader().close()
                with pytest.raises(exc.DBAPIError):
                    await database.ping()
            else:  # the server ends the connection the pool holds: the read is tried again on a fresh one
                (pid,) = (await database.hot_rows(BACKEND))[0]
                await _run(other, f"SELECT pg_terminate_backend({int(pid)})")
                assert (await database.hot_rows(BACKEND))[0][0] != pid
            await database.ping()
        finally:
            await database.dispose()
            await other.dispose()

    asyncio.run(scenario())


def test_reads_stand_alone_and_reads_and_writes_get_a_working_connection_after_the_server_closed_them(settings):
    async def scenario() -> None:
        database, other = Database(settings.database_url), Database(settings.database_url)
        try:
            async with database.read() as connection:  # no transaction: a commit meanwhile is seen at once
                assert await connection.scalar(text("SELECT count(*) FROM variant")) is not None
                await _run(other, "CREATE TABLE hot_read_probe (id INTEGER)")
                await _run(other, "INSERT INTO hot_read_probe VALUES (7)")
                assert await connection.scalar(text("SELECT id FROM hot_read_probe")) == 7
            if not database.sqlite:  # every connection of this worker's pools ends, as in a restart
                async with database.read() as connection:
                    await connection.scalar(text("SELECT 1"))
                await _run(database, "INSERT INTO hot_read_probe VALUES (8)")
                await _run(
                    other,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    "AND datname = current_database() AND application_name = ''",
                )
                await asyncio.sleep(0.2)  # the closed sockets reach the event loop
            await _run(database, "DELETE FROM hot_read_probe WHERE id = 8")
            async with database.read() as connection:
                assert await connection.scalar(text("SELECT id FROM hot_read_probe")) == 7
        finally:
            await _run(other, "DROP TABLE IF EXISTS hot_read_probe")
            await database.dispose()
            await other.dispose()

    asyncio.run(scenario())


def test_a_crowd_of_requests_is_served_within_the_connections_promised_per_worker(settings):
    """However many requests come at once, a worker holds at most its pools' connections
    (the README promises four workers stay within PostgreSQL's default of 100)."""

    async def scenario() -> None:
        database, other = Database(settings.database_url), Database(settings.database_url)

        async def read() -> None:
            async with database.read() as connection:
                await connection.execute(text("SELECT 1"))

        async def write() -> None:
            async with database.write() as connection:
                await connection.execute(text("SELECT 1"))

        try:
            await asyncio.gather(*(kind() for _ in range(40) for kind in (database.ping, read, write)))
            if not database.sqlite:  # the pools keep what they opened; less the counting connection
                opened = int((await other.hot_rows(BACKENDS_OF_DATABASE))[0][0]) - 1
                assert 1 < opened <= POOL_SIZE + READ_POOL_SIZE + HOT_POOL_SIZE
        finally:
            await database.dispose()
            await other.dispose()

    asyncio.run(scenario())


PLANS = HotRead(
    "plans",
    lambda _dialect: text(
        "SELECT current_setting('plan_cache_mode'), coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
        " FROM pg_prepared_statements"
        " WHERE statement LIKE '%cart_line.variant_id%' AND statement NOT LIKE '%pg_prepared_statements%'"
    ),
)


def test_a_hot_read_is_planned_once_per_connection_not_on_every_run(settings):
    """PostgreSQL plans each hot statement once per connection: left to choose, it planned the page
    state afresh on every run, which cost three times the run itself."""

    async def scenario() -> None:
        database = Database(settings.database_url)
        try:
            for _ in range(8):
                rows = await database.hot_rows(_PAGE_STATE, **page_state_parameters(database, "no such cart", [1, 2]))
                assert 2 not in {row[0] for row in rows}  # no cart lines for a cart that is not there
            if not database.sqlite:  # SQLite plans a statement when it prepares it, as these do once
                # one connection served every read, one at a time: the one returned last is taken first
                [(mode, generic, custom)] = await database.hot_rows(PLANS)
                assert (mode, int(generic), int(custom)) == ("force_generic_plan", 8, 0)
        finally:
            await database.dispose()

    asyncio.run(scenario())


stamp_t = Table("hot_read_stamp", MetaData(), Column("at", DateTimeUTC(timezone=True)))
STAMPS = HotRead("stamps", lambda _dialect: select(stamp_t.c.at, literal_column("7")))


def test_a_hot_read_gives_each_value_as_its_column_type_reads_it(settings):
    """Dates come back as dates in UTC, on SQLite (which stores text) as on PostgreSQL."""
    at = dt.datetime(2026, 12, 6, 9, 30, 15, 123456, tzinfo=dt.UTC)

    async def scenario() -> None:
        database = Database(settings.database_url)
        try:
            async with database.write() as connection:
                await connection.execute(text("DROP TABLE IF EXISTS hot_read_stamp"))
            async with database.async_engine.begin() as connection:
                await connection.run_sync(stamp_t.metadata.create_all)
            async with database.write() as connection:
                await connection.execute(stamp_t.insert(), [{"at": at}, {"at": None}])
            rows = await database.hot_rows(STAMPS)
            assert sorted((tuple(row) for row in rows), key=lambda row: row[0] is None) == [(at, 7), (None, 7)]
        finally:
            async with database.write() as connection:
                await connection.execute(text("DROP TABLE IF EXISTS hot_read_stamp"))
            await database.dispose()

    asyncio.run(scenario())


PROBE_INSERT = HotWrite("probe insert", lambda _dialect: text("INSERT INTO hot_read_probe VALUES (1) RETURNING id"))
SLOW_PROBE_INSERT = HotWrite(
    "slow probe insert", lambda _dialect: text("INSERT INTO hot_read_probe SELECT 1 FROM pg_sleep(2) RETURNING 1")
)


def test_a_hot_write_is_made_once_and_a_lost_connection_fails_it_rather_than_trying_twice(settings):
    """A write cannot be tried again blindly: the connection lost under it may have committed it."""

    async def scenario() -> None:
        database, other = Database(settings.database_url), Database(settings.database_url)
        try:
            if database.sqlite:  # SQLite has no one-statement write of two tables: its writers use write()
                with pytest.raises(TypeError, match="needs PostgreSQL"):
                    await database.hot_write(PROBE_INSERT)
                return
            await _run(database, "DROP TABLE IF EXISTS hot_read_probe")
            await _run(database, "CREATE TABLE hot_read_probe (id INTEGER)")
            assert [tuple(row) for row in await database.hot_write(PROBE_INSERT)] == [(1,)]
            (pid,) = (await database.hot_rows(BACKEND))[0]  # the hot connection the write will take
            write = asyncio.create_task(database.hot_write(SLOW_PROBE_INSERT))
            await asyncio.sleep(0.5)
            await _run(other, f"SELECT pg_terminate_backend({int(pid)})")  # lost under the write
            with pytest.raises(exc.OperationalError):
                await write
            await database.hot_write(PROBE_INSERT)  # a fresh connection for the next
            # the first write and the last: the one whose connection was lost was not made
            assert [tuple(row) for row in await database.hot_rows(PROBE, ids=database.id_list([1]))] == [(1,), (1,)]
        finally:
            if not database.sqlite:
                await _run(database, "DROP TABLE IF EXISTS hot_read_probe")
            await database.dispose()
            await other.dispose()

    asyncio.run(scenario())


def test_a_write_made_while_a_product_is_saved_waits_its_turn_and_both_are_kept(settings):
    """Saving a product (or importing a file) holds the write lock across several statements,
    each awaited. A checkout in the same worker that writes meanwhile must wait for it without
    holding up the worker: on SQLite, waiting for the lock inside the event loop would stop the
    save itself from going on, and the checkout would fail after the busy timeout."""

    async def scenario() -> list[str]:
        database = Database(settings.database_url)
        config = make_alchemy_config(database.async_engine)
        happened: list[str] = []

        async def checkout() -> None:
            async with database.write() as connection:
                await connection.execute(text("UPDATE variant SET stock = stock - 1 WHERE sku = 'HONEY-250'"))
            happened.append("checkout")

        try:
            async with database.writing_session(config) as session:
                await session.execute(text("UPDATE variant SET stock = stock + 10 WHERE sku = 'MUG'"))
                meanwhile = asyncio.create_task(checkout())
                await asyncio.sleep(0.05)  # the checkout starts and waits
                await session.execute(text("UPDATE variant SET stock = stock + 10 WHERE sku = 'MUG'"))
                await session.commit()
                happened.append("save")
            await meanwhile
        finally:
            await database.dispose()
        return happened

    before = dict(query(settings.database_url, "SELECT sku, stock FROM variant WHERE sku IN ('MUG', 'HONEY-250')"))
    happened = asyncio.run(scenario())
    after = dict(query(settings.database_url, "SELECT sku, stock FROM variant WHERE sku IN ('MUG', 'HONEY-250')"))
    assert after == {"MUG": before["MUG"] + 20, "HONEY-250": before["HONEY-250"] - 1}
    if settings.database_url.startswith("sqlite"):  # one writer at a time: the checkout after the save
        assert happened == ["save", "checkout"]


def test_a_write_inside_a_write_of_the_same_request_is_refused_rather_than_waiting_for_itself(settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's writers lock rows, not the whole file: a write inside a write is allowed there")

    async def scenario() -> None:
        database = Database(settings.database_url)
        try:
            async with database.write():
                with pytest.raises(RuntimeError, match="already writing"):
                    async with asyncio.timeout(30), database.write():  # without the check: waits for itself
                        pass
        finally:
            await database.dispose()

    asyncio.run(scenario())
