"""Fault scenarios, run inside a generated project (uow pattern, with examples) by its own Python.

    .venv/bin/python reliability.py PACKAGE SCENARIO

The database is the project's `DATABASE_URL`, its pool the project's `DATABASE_POOL_*`
settings, read from the environment exactly as in production. Each scenario prints one JSON
object per line; tests/test_reliability.py asserts on them. `survive` stops half-way: it prints
`{"phase": "ready", ...}` and waits for a line on standard input, so that the test can kill the
pooled connections or restart the server in between.

This file imports the generated project and SQLAlchemy, which only its virtual environment has.
"""

# mypy: disable-error-code="import-not-found, untyped-decorator"

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from generated_project import GeneratedProject, describe, report, run_named
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

CONCURRENT_TASKS = 200


class FaultProject(GeneratedProject):
    """The generated project, with the few units of work the scenarios repeat."""

    async def add_user(self, email: str) -> None:
        """One unit of work that stores one user."""
        async with self.unit_of_work() as session:
            session.add(self.models.User(name=email.split("@")[0][:50], email=email))

    async def stored(self, emails: list[str]) -> list[str]:
        """Which of `emails` are committed, read in a unit of work of its own."""
        user = self.models.User
        async with self.unit_of_work() as session:
            found = await session.scalars(select(user.email).where(user.email.in_(emails)))
            return sorted(found)

    async def count_users(self, prefix: str) -> int:
        user = self.models.User
        async with self.unit_of_work() as session:
            statement = select(func.count()).where(user.email.startswith(prefix))
            return int(await session.scalar(statement) or 0)


async def survive(project: FaultProject, label: str) -> None:
    """Committed rows and a full pool, then (after the test's fault) units of work again."""
    engine = project.db.get_engine()
    pool_size = engine.pool.size()
    before = [f"{label}-before-{number}@example.com" for number in range(pool_size)]
    # Concurrent units of work, so every pooled connection is open and idle afterwards.
    await asyncio.gather(*(project.add_user(email) for email in before))
    report(phase="ready", idle_connections=engine.pool.checkedin())
    await asyncio.to_thread(sys.stdin.readline)  # the test kills or restarts now

    first_error = None
    try:  # the very first unit of work after the fault, with no retry
        await project.add_user(f"{label}-first-after@example.com")
    except Exception as error:  # reported, not raised: the test says what went wrong
        first_error = describe(error)
    after = [f"{label}-after-{number}@example.com" for number in range(pool_size)]
    results = await asyncio.gather(
        *(project.add_user(email) for email in after), return_exceptions=True
    )
    errors = [describe(result) for result in results if isinstance(result, BaseException)]
    expected = [*before, *after, f"{label}-first-after@example.com"]
    if first_error is not None:
        expected.remove(f"{label}-first-after@example.com")
    stored = await project.stored(expected)
    report(
        phase="done",
        first_error=first_error,
        errors=errors,
        missing=sorted(set(expected) - set(stored)),
        checked_out=engine.pool.checkedout(),
    )


async def atomicity(project: FaultProject) -> None:
    """A unit of work that fails half-way stores nothing, and everything stays usable."""
    user = project.models.User
    engine = project.db.get_engine()
    await project.add_user("taken@example.com")

    emails = [f"batch-{number}@example.com" for number in range(5)]
    emails[2] = "taken@example.com"  # the third insert violates the unique email
    integrity_error = None
    try:
        async with project.unit_of_work() as session:
            for email in emails:
                session.add(user(name="Batch", email=email))
                await session.flush()  # each insert reaches the database at once
    except IntegrityError as error:
        integrity_error = describe(error)

    application_error = None
    try:
        async with project.unit_of_work() as session:
            for number in range(2):
                session.add(user(name="Doomed", email=f"doomed-{number}@example.com"))
            await session.flush()
            raise RuntimeError("the application failed after two inserts")
    except RuntimeError as error:
        application_error = describe(error)

    # The same session keeps working after a failed transaction.
    session_reused = False
    async with project.db.get_session_factory()() as session:
        try:
            async with session.begin():
                session.add(user(name="Again", email="taken@example.com"))
        except IntegrityError:
            pass
        async with session.begin():
            session.add(user(name="Reused", email="reused@example.com"))
        session_reused = True

    await project.add_user("after-failures@example.com")
    stored = await project.stored(
        [*emails, "doomed-0@example.com", "doomed-1@example.com", "reused@example.com"]
    )
    report(
        integrity_error=integrity_error,
        application_error=application_error,
        session_reused=session_reused,
        stored=stored,
        pool_usable=await project.stored(["after-failures@example.com"])
        == ["after-failures@example.com"],
        checked_out=engine.pool.checkedout(),
    )


async def concurrency(project: FaultProject) -> None:
    """CONCURRENT_TASKS tasks, each with its own small unit of work, all at once."""
    engine = project.db.get_engine()
    in_use = 0
    most_in_use = 0

    @event.listens_for(engine.sync_engine, "checkout")
    def on_checkout(*_: Any) -> None:
        nonlocal in_use, most_in_use
        in_use += 1
        most_in_use = max(most_in_use, in_use)

    @event.listens_for(engine.sync_engine, "checkin")
    def on_checkin(*_: Any) -> None:
        nonlocal in_use
        in_use -= 1

    emails = [f"task-{number}@example.com" for number in range(CONCURRENT_TASKS)]
    started = time.monotonic()
    results = await asyncio.gather(
        *(project.add_user(email) for email in emails), return_exceptions=True
    )
    seconds = time.monotonic() - started
    errors = [describe(result) for result in results if isinstance(result, BaseException)]
    report(
        errors=errors[:10],
        error_count=len(errors),
        stored=await project.count_users("task-"),
        most_in_use=most_in_use,
        pool_size=engine.pool.size(),
        max_overflow=project.settings.database_max_overflow,
        checked_out=engine.pool.checkedout(),
        seconds=round(seconds, 2),
    )


async def exhaustion(project: FaultProject) -> None:
    """Every connection held: the next session fails after the pool timeout, then recovers."""
    factory = project.db.get_session_factory()
    capacity = project.settings.database_pool_size + project.settings.database_max_overflow
    holders = [factory() for _ in range(capacity)]
    for holder in holders:
        await holder.connection()  # checks a connection out and keeps it
    started = time.monotonic()
    error = None
    try:
        async with factory() as session:
            await session.connection()
    except PoolTimeoutError as timeout:
        error = str(timeout)
    waited = time.monotonic() - started
    for holder in holders:
        await holder.close()
    await project.add_user("after-exhaustion@example.com")
    report(
        error=error,
        waited=round(waited, 2),
        recovered=await project.stored(["after-exhaustion@example.com"])
        == ["after-exhaustion@example.com"],
    )


if __name__ == "__main__":
    run_named(
        {
            "survive": survive,
            "atomicity": atomicity,
            "concurrency": concurrency,
            "exhaustion": exhaustion,
        },
        project_class=FaultProject,
    )
