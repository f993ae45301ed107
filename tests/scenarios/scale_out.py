"""Scale-out scenarios, run inside a generated project (uow pattern, with examples) by its own
Python, against PostgreSQL behind PgBouncer or with a streaming replica.

    .venv/bin/python scale_out.py PACKAGE load TRANSACTIONS CONCURRENCY LABEL
    .venv/bin/python scale_out.py PACKAGE replica
    .venv/bin/python scale_out.py PACKAGE fallback

The servers are the project's `DATABASE_URL` (and `DATABASE_REPLICA_URL`), read from the
environment as in production. Each scenario prints one JSON object; tests/test_scale_out.py
asserts on it.
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from generated_project import GeneratedProject, describe, report, run_named
from sqlalchemy import func, insert, literal_column, select, text

REPLICATION_TIMEOUT = 30.0  # seconds


async def load(project: GeneratedProject, transactions: str, concurrency: str, label: str) -> None:
    """Many small transactions, the same few statements again and again (which is what makes
    drivers prepare them), with several connections at once."""
    user = project.models.User
    failures: Counter[str] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(int(transactions)):
        queue.put_nowait(number)

    async def one_transaction(number: int) -> None:
        email = f"{label}-{number}@example.com"
        async with project.unit_of_work() as session:
            session.add(user(name="Load", email=email))
            await session.flush()
            found = await session.scalar(select(user.id).where(user.email == email))
            assert found is not None
            await session.scalar(select(func.count()).select_from(user))

    async def worker() -> None:
        while not queue.empty():
            number = queue.get_nowait()
            try:
                await one_transaction(number)
            except Exception as error:  # counted: the test asserts how many failed, and why
                failures[describe(error)] += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(int(concurrency))))
    seconds = time.monotonic() - started
    stored = None
    try:
        async with project.unit_of_work() as session:
            statement = select(func.count()).where(user.email.startswith(f"{label}-"))
            stored = await session.scalar(statement)
    except Exception as error:
        failures[describe(error)] += 1
    report(
        transactions=int(transactions),
        failures=sum(failures.values()),
        reasons=dict(failures.most_common(5)),
        stored=stored,
        seconds=round(seconds, 2),
    )


# Asked in a session, where its plain SELECTs run: true on a replica.
ON_REPLICA: dict[str, Any] = {
    "postgresql": func.pg_is_in_recovery(),
    "mysql": literal_column("@@read_only"),
}
HAS_USERS_TABLE = {
    "postgresql": "SELECT to_regclass('users') IS NOT NULL",
    "mysql": "SELECT count(*) FROM information_schema.tables"
    " WHERE table_schema = DATABASE() AND table_name = 'users'",
}


async def on_replica(session: Any) -> bool:
    dialect = session.bind.dialect.name
    return bool(await session.scalar(select(ON_REPLICA[dialect])))


async def replica(project: GeneratedProject) -> None:
    """Writes go to the primary, reads to the replica, and nothing writes to the replica."""
    user = project.models.User
    replica_engine = project.db.get_replica_engine()
    assert replica_engine is not None, "DATABASE_REPLICA_URL is not set"
    factory = project.db.get_session_factory()

    # The migrations ran on the primary: wait until the replica has replayed them.
    deadline = time.monotonic() + REPLICATION_TIMEOUT
    while True:
        async with replica_engine.connect() as connection:
            if await connection.scalar(text(HAS_USERS_TABLE[connection.dialect.name])):
                break
        assert time.monotonic() < deadline, "the replica never received the schema"
        await asyncio.sleep(0.05)

    async with project.unit_of_work() as session:
        session.add(user(name="Replicated", email="replicated@example.com"))
        # A session that wrote reads from the primary: it sees its own row at once.
        own_write_visible = (
            await session.scalar(select(user.id).where(user.email == "replicated@example.com"))
            is not None
        )
        after_write_on_replica = await on_replica(session)

    attempts = 0
    seen_on_replica = False
    read_on_replica = None
    started = time.monotonic()
    while time.monotonic() - started < REPLICATION_TIMEOUT:
        attempts += 1
        async with factory() as session:
            statement = select(user.id).where(user.email == "replicated@example.com")
            found = await session.scalar(statement)
            # The same kind of plain SELECT, asked where it ran.
            read_on_replica = await on_replica(session)
        if found is not None:
            seen_on_replica = True
            break
        await asyncio.sleep(0.02)
    lag = time.monotonic() - started

    # A row committed a moment ago, read at once through use_primary().
    async with project.unit_of_work() as session:
        session.add(user(name="Fresh", email="fresh@example.com"))
    async with factory() as session:
        project.module("replica").use_primary(session)
        fresh = await session.scalar(select(user.id).where(user.email == "fresh@example.com"))
        forced_on_replica = await on_replica(session)

    statement = insert(user).values(name="Lost", email="lost@example.com")
    # The replica route: the application's replica engine (read-only transactions) ...
    write_errors = {"replica_engine": await refusal(replica_engine, statement)}
    # ... and even a plain engine on the replica, which refuses every write by itself.
    plain = project.db.make_engine(project.db.get_settings().database_replica_url)
    try:
        write_errors["plain_engine_on_replica"] = await refusal(plain, statement)
    finally:
        await plain.dispose()

    async with factory() as session:
        count = select(func.count()).where(user.email == "lost@example.com")
        lost_rows = await session.scalar(count)

    await replica_engine.dispose()
    report(
        own_write_visible=own_write_visible,
        after_write_on_replica=after_write_on_replica,
        seen_on_replica=seen_on_replica,
        read_on_replica=read_on_replica,
        fresh_seen_through_use_primary=fresh is not None,
        forced_on_replica=forced_on_replica,
        attempts=attempts,
        lag=round(lag, 3),
        write_errors=write_errors,
        lost_rows=lost_rows,
    )


async def refusal(engine: Any, statement: Any) -> str | None:
    """The error a write through `engine` meets; None when it was stored."""
    try:
        async with engine.begin() as connection:
            await connection.execute(statement)
    except Exception as error:
        return describe(error)
    return None


async def fallback(project: GeneratedProject) -> None:
    """Without DATABASE_REPLICA_URL, reads go to the primary."""
    user = project.models.User
    async with project.db.get_session_factory()() as session:
        read_on_replica = await on_replica(session)
        users = await session.scalar(select(func.count()).select_from(user))
    report(
        replica_engine=project.db.get_replica_engine() is not None,
        read_on_replica=read_on_replica,
        users=users,
    )


if __name__ == "__main__":
    run_named({"load": load, "replica": replica, "fallback": fallback})
