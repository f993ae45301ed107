"""Fill a generated project's database through its models, or print every row it holds.

    .venv/bin/python rows.py PACKAGE fill
    .venv/bin/python rows.py PACKAGE dump

`fill` writes users, posts with their tags, and bookmarks (a model the project's user added
to `models.py`) through the project's own sessions. `dump` prints one JSON object: every table
the database has (reflected, so columns the code does not know yet are there too), its rows
sorted, each value as text; and `alembic_version` on its own.
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import Any

from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection


async def fill(package: str) -> None:
    db = importlib.import_module(f"{package}.db")
    models = importlib.import_module(f"{package}.models")
    engine = db.make_engine(pooled=False)
    try:
        async with db.make_session_factory(engine)() as session, session.begin():
            users = [
                models.User(name=f"Author {n}", email=f"author{n}@example.com") for n in range(3)
            ]
            tags = [models.Tag(name=name) for name in ("alembic", "python", "sqlalchemy")]
            posts = [
                models.Post(
                    title=f"Post {n} of {user.name}",
                    content=f"Body {n}, with ünïcode ✓",
                    author=user,
                    tags=tags[: n + 1],
                )
                for user in users
                for n in range(2)
            ]
            session.add_all([*users, *tags, *posts])
            await session.flush()
            session.add_all(
                models.Bookmark(user_id=user.id, post_id=post.id, note=f"{user.name} reads it")
                for user in users
                for post in posts[:2]
            )
    finally:
        await engine.dispose()


def rows_of(connection: Connection) -> dict[str, Any]:
    metadata = MetaData()
    metadata.reflect(connection)
    tables: dict[str, Any] = {}
    for name, table in sorted(metadata.tables.items()):
        rows = [
            {column: None if value is None else str(value) for column, value in row.items()}
            for row in connection.execute(select(table)).mappings()
        ]
        tables[name] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
    return tables


async def dump(package: str) -> None:
    engine = importlib.import_module(f"{package}.db").make_engine(pooled=False)
    try:
        async with engine.connect() as connection:
            print(json.dumps(await connection.run_sync(rows_of)))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    package, action = sys.argv[1:]
    asyncio.run({"fill": fill, "dump": dump}[action](package))
