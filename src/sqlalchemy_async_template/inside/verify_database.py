"""The databases `sqla-template verify` works on, handled with a generated project's own Python
and driver, so that they are reached exactly as the project reaches its own.

    python verify_database.py configured PACKAGE   # the project's configured DATABASE_URL
    python verify_database.py create URL SUFFIX     # a new database next to URL's, its URL
    python verify_database.py drop URL DATABASE     # drop DATABASE, next to URL's
    python verify_database.py rows URL              # how many rows the database at URL holds

A database that does not answer exits with status 3, a refusal (no privilege to create a
database, for one) with status 4; both print one line on standard error for a person to read.

Only the standard library and SQLAlchemy are imported here (and the project's settings for
`configured`): nothing of the companion package.
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

UNREACHABLE = 3
REFUSED = 4
CONNECT_TIMEOUT_SECONDS = 10


class Failure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def shown(url: URL) -> str:
    return str(url.render_as_string(hide_password=True))


def first_line(error: BaseException) -> str:
    message = str(getattr(error, "orig", None) or error or type(error).__name__)
    return " ".join(message.split())[:200]


async def on_database(url: URL, work: Callable[[AsyncConnection], Awaitable[str]]) -> str:
    """`work` on an autocommit connection to `url`."""
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                connection = await engine.connect()
        except (OSError, TimeoutError, DBAPIError) as error:
            raise Failure(
                UNREACHABLE, f"Cannot reach the database at {shown(url)} ({first_line(error)})."
            ) from error
        try:
            return await work(connection)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def quoted(connection: AsyncConnection, name: str) -> str:
    return str(connection.dialect.identifier_preparer.quote_identifier(name))


async def create(url: URL, suffix: str) -> str:
    database = f"{url.database}{suffix}"

    async def work(connection: AsyncConnection) -> str:
        statement = f"CREATE DATABASE {quoted(connection, database)}"
        if url.get_backend_name() == "mysql":
            statement += " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        try:
            await connection.execute(text(statement))
        except SQLAlchemyError as error:
            raise Failure(
                REFUSED,
                f"Cannot create a database {database!r} next to {shown(url)} "
                f"({first_line(error)}).",
            ) from error
        return str(url.set(database=database).render_as_string(hide_password=False))

    return await on_database(url, work)


async def drop(url: URL, database: str) -> str:
    """Drop `database`, from a connection to the database at `url` next to it."""
    postgresql = url.get_backend_name() == "postgresql"

    async def work(connection: AsyncConnection) -> str:
        statement = f"DROP DATABASE IF EXISTS {quoted(connection, database)}"
        # WITH (FORCE): connections an interrupted test run left behind go too.
        await connection.execute(text(statement + (" WITH (FORCE)" if postgresql else "")))
        return str(database)

    return await on_database(url, work)


async def rows(url: URL) -> str:
    async def work(connection: AsyncConnection) -> str:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        total = 0
        for table in tables:
            statement = text(f"SELECT COUNT(*) FROM {quoted(connection, table)}")
            total += int(await connection.scalar(statement) or 0)
        return str(total)

    return await on_database(url, work)


def configured(package: str) -> str:
    try:
        settings = importlib.import_module(f"{package}.settings").get_settings()
    except Exception as error:  # a missing or invalid setting, reported as the user wrote it
        raise Failure(
            REFUSED, f"Cannot read the project's DATABASE_URL ({first_line(error)})."
        ) from error
    return str(settings.database_url)


def main(arguments: list[str]) -> str:
    command, *rest = arguments
    if command == "configured":
        return configured(*rest)
    url = make_url(rest[0])
    if command == "create":
        return asyncio.run(create(url, rest[1]))
    if command == "drop":
        return asyncio.run(drop(url, rest[1]))
    if command == "rows":
        if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
            return "0"  # no file yet (connecting would create one)
        return asyncio.run(rows(url))
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    try:
        print(main(sys.argv[1:]))
    except Failure as failure:
        print(failure, file=sys.stderr)
        raise SystemExit(failure.status) from None
