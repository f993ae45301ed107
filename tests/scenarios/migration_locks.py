"""A migration behind a lock, run inside a generated project by its own Python.

    .venv/bin/python migration_locks.py PACKAGE hold_post
    .venv/bin/python migration_locks.py PACKAGE read_posts

`hold_post` stores a user and a post, then locks the post's row (`SELECT ... FOR UPDATE`) in a
transaction of its own and reports `{"phase": "locked"}`. At the next line on standard input
it watches, from another connection, for an `ALTER TABLE posts` waiting for a lock and reports
`{"phase": "alter waiting"}`; at the next, it ends its transaction (`{"phase": "released"}`).

`read_posts` connects, reports `{"phase": "ready"}`, and at a line on standard input counts the
posts, reporting how long the answer took (or the error).
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import asyncio
import sys
import time

from generated_project import GeneratedProject, describe, report, run_named
from sqlalchemy import text

WAITING_ALTER = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    " AND query ILIKE 'ALTER TABLE posts%'",
    "mysql": "SELECT count(*) FROM information_schema.processlist"
    " WHERE info LIKE 'ALTER TABLE posts%' AND state LIKE 'Waiting for%lock'",
}


async def next_line() -> None:
    await asyncio.to_thread(sys.stdin.readline)


async def hold_post(project: GeneratedProject) -> None:
    async with project.unit_of_work() as session:
        user = await project.repositories.UserRepository(session).add(
            name="Ada", email="ada@example.com"
        )
        await project.repositories.PostRepository(session).add(
            author=user, title="Locked", content="Held by another transaction."
        )
    async with project.engine.connect() as holder, project.engine.connect() as watcher:
        transaction = await holder.begin()
        await holder.execute(text("SELECT id FROM posts FOR UPDATE"))
        report(phase="locked")
        await next_line()
        statement = text(WAITING_ALTER[holder.dialect.name])
        deadline = time.monotonic() + 60
        while not await watcher.scalar(statement):
            await watcher.rollback()  # a new snapshot of the server's activity
            if time.monotonic() > deadline:
                raise SystemExit("no ALTER TABLE posts waited for a lock within 60 s")
            await asyncio.sleep(0.02)
        report(phase="alter waiting")
        await next_line()
        await transaction.commit()
    report(phase="released")


async def read_posts(project: GeneratedProject) -> None:
    async with project.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        report(phase="ready")
        await next_line()
        started = time.monotonic()
        try:
            posts = await connection.scalar(text("SELECT count(*) FROM posts"))
        except Exception as error:  # reported for the test to show
            report(error=describe(error), seconds=time.monotonic() - started)
        else:
            report(posts=posts, seconds=time.monotonic() - started)


if __name__ == "__main__":
    run_named({"hold_post": hold_post, "read_posts": read_posts})
