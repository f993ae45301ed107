"""The raw drivers the benchmark compares the generated code with, each used as its own
documentation shows: insert many rows, fetch rows inside a transaction, and (for the
hand-written app of `raw_app.py`) run statements on a connection in autocommit mode, with
transactions begun and ended by SQL.

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

    # Bound parameters, as the driver spells them: `%s`, `?`, or `$1` and on (see `sql`).
    placeholder = "%s"

    def placeholders(self, count: int) -> str:
        return ", ".join(["%s"] * count)

    def sql(self, statement: str) -> str:
        """`statement`, written with `?` for each parameter, in the driver's own spelling."""
        return statement.replace("?", self.placeholder)

    async def autocommit(self) -> None:
        """Each statement its own transaction, unless sent between `BEGIN` and `COMMIT`."""
        await self.connection.autocommit(True)

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        async with self.connection.cursor() as cursor:
            await cursor.execute(sql, parameters)

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

    def sql(self, statement: str) -> str:
        parts = statement.split("?")
        numbered = [f"{part}${number}" for number, part in enumerate(parts[:-1], start=1)]
        return "".join([*numbered, parts[-1]])

    async def autocommit(self) -> None:
        """asyncpg runs each statement in its own transaction unless one was begun."""

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        await self.connection.execute(sql, *parameters)

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
    async def autocommit(self) -> None:
        await self.connection.set_autocommit(True)

    async def close(self) -> None:
        await self.connection.close()


class Aiosqlite(RawDriver):
    placeholder = "?"

    def placeholders(self, count: int) -> str:
        return ", ".join(["?"] * count)

    async def autocommit(self) -> None:
        # Connected with `isolation_level=None`, the sqlite3 module begins no transaction of
        # its own; foreign keys enforced, and writers waiting for each other, as the generated
        # project's connections do.
        await self.connection.execute("PRAGMA foreign_keys=ON")
        await self.connection.execute("PRAGMA busy_timeout=30000")

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        await self.connection.execute(sql, parameters)

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


async def connect_raw(driver: str, url: Any, *, autocommit: bool = False) -> RawDriver:
    """A connection of `driver` itself, from the parts of the SQLAlchemy `url`; with
    `autocommit`, each statement is its own transaction unless sent after a `BEGIN`."""
    connection = await _connect(driver, url, autocommit=autocommit)
    if autocommit:
        await connection.autocommit()
    return connection


async def _connect(driver: str, url: Any, *, autocommit: bool) -> RawDriver:
    module = importlib.import_module(driver)
    server = {"host": url.host, "port": url.port, "user": url.username, "password": url.password}
    if driver == "asyncpg":
        return Asyncpg(await module.connect(database=url.database, **server))
    if driver == "psycopg":
        return Psycopg(await module.AsyncConnection.connect(dbname=url.database, **server))
    if driver == "aiosqlite":
        isolation = {"isolation_level": None} if autocommit else {}
        return Aiosqlite(await module.connect(url.database, **isolation))
    if driver == "asyncmy":
        return Asyncmy(await module.connect(database=url.database, charset="utf8mb4", **server))
    if driver == "aiomysql":
        return MySQL(await module.connect(db=url.database, charset="utf8mb4", **server))
    raise ValueError(f"no raw benchmark for driver {driver!r}")
