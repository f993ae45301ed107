"""The raw drivers the benchmark compares the generated code with, each used as its own
documentation shows: insert many rows, and fetch rows inside a transaction.

Runs inside a generated project's virtual environment (see generated_project.py): the driver
is imported at run time.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

Rows = list[tuple[Any, ...]]


class RawDriver:
    """A raw driver connection: insert many rows, and fetch rows inside a transaction.

    Written for the DB-API style async cursors of psycopg, asyncmy and aiomysql; the
    subclasses adapt it to the other drivers' own interfaces.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def placeholders(self, count: int) -> str:
        return ", ".join(["%s"] * count)

    async def insert_many(self, sql: str, rows: Rows) -> None:
        async with self.connection.cursor() as cursor:
            await cursor.executemany(sql, rows)
        await self.connection.commit()

    async def begin(self) -> None:
        """Reads run in a transaction, as they do in a session."""

    async def fetch(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        async with self.connection.cursor() as cursor:
            await cursor.execute(sql, parameters)
            rows: Rows = await cursor.fetchall()
            return rows

    async def end(self) -> None:
        await self.connection.rollback()

    async def close(self) -> None:
        self.connection.close()

    def timestamp(self, value: Any) -> datetime:
        """A timestamp column's value as the datetime the generated code returns."""
        return cast(datetime, value)


class Asyncpg(RawDriver):
    def placeholders(self, count: int) -> str:
        return ", ".join(f"${number}" for number in range(1, count + 1))

    async def insert_many(self, sql: str, rows: Rows) -> None:
        async with self.connection.transaction():
            await self.connection.executemany(sql, rows)

    async def begin(self) -> None:
        self.transaction = self.connection.transaction()
        await self.transaction.start()

    async def fetch(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        return list(await self.connection.fetch(sql, *parameters))

    async def end(self) -> None:
        await self.transaction.rollback()

    async def close(self) -> None:
        await self.connection.close()


class Psycopg(RawDriver):
    async def close(self) -> None:
        await self.connection.close()


class Aiosqlite(RawDriver):
    def placeholders(self, count: int) -> str:
        return ", ".join(["?"] * count)

    async def begin(self) -> None:
        # The sqlite3 module begins no transaction for a SELECT: begin one, as a session does.
        await self.connection.execute("BEGIN")

    async def insert_many(self, sql: str, rows: Rows) -> None:
        await self.connection.executemany(sql, rows)
        await self.connection.commit()

    async def fetch(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        async with self.connection.execute(sql, parameters) as cursor:
            rows: Rows = await cursor.fetchall()
            return rows

    async def close(self) -> None:
        await self.connection.close()

    def timestamp(self, value: Any) -> datetime:
        # SQLite stores timestamps as UTC text: deliver the aware datetimes the generated code
        # does.
        return datetime.fromisoformat(value).replace(tzinfo=UTC)


class MySQL(RawDriver):
    def timestamp(self, value: Any) -> datetime:
        # DATETIME columns hold UTC without a time zone: deliver the aware datetimes the
        # generated code does.
        return cast(datetime, value).replace(tzinfo=UTC)


class Asyncmy(MySQL):
    async def close(self) -> None:
        await self.connection.ensure_closed()


async def connect_raw(driver: str, url: Any) -> RawDriver:
    """A connection of `driver` itself, from the parts of the SQLAlchemy `url`."""
    module = importlib.import_module(driver)
    server = {"host": url.host, "port": url.port, "user": url.username, "password": url.password}
    if driver == "asyncpg":
        return Asyncpg(await module.connect(database=url.database, **server))
    if driver == "psycopg":
        return Psycopg(await module.AsyncConnection.connect(dbname=url.database, **server))
    if driver == "aiosqlite":
        return Aiosqlite(await module.connect(url.database))
    if driver == "asyncmy":
        return Asyncmy(await module.connect(database=url.database, charset="utf8mb4", **server))
    if driver == "aiomysql":
        return MySQL(await module.connect(db=url.database, charset="utf8mb4", **server))
    raise ValueError(f"no raw benchmark for driver {driver!r}")
