"""The reads every request makes run on the driver's own connection: they must see every commit,
fail like any other read, and get a working connection again after a failure."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Integer, column, exc, func, literal_column, select, table, text

from storefront.db import Database, HotRead

probe_t = table("hot_read_probe", column("id", Integer))
BACKEND = HotRead("backend", lambda _dialect: select(func.pg_backend_pid()))
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
