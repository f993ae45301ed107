"""Lock and connection scenarios, run inside a generated project by its own Python, next to
the project's app serving requests.

    .venv/bin/python locks.py PACKAGE hold_user EMAIL
    .venv/bin/python locks.py PACKAGE connections

`hold_user` locks a user's row (`SELECT ... FOR UPDATE`) in a transaction of its own, reports
`{"phase": "locked"}` and keeps the lock until a line arrives on standard input: every request
that writes a post of that user waits meanwhile. `connections` reports how many other
connections the database has open.
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import asyncio
import sys

from generated_project import GeneratedProject, report, run_named
from sqlalchemy import select, text


async def hold_user(project: GeneratedProject, email: str) -> None:
    user = project.models.User
    async with project.session_factory.begin() as session:
        statement = select(user.id).where(user.email == email).with_for_update()
        user_id = (await session.execute(statement)).scalar_one()
        report(phase="locked", user_id=str(user_id))
        await asyncio.to_thread(sys.stdin.readline)
    report(phase="released")


OTHER_CONNECTIONS = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    "mysql": "SELECT count(*) FROM information_schema.processlist"
    " WHERE db = DATABASE() AND id <> CONNECTION_ID()",
}


async def connections(project: GeneratedProject) -> None:
    async with project.engine.connect() as connection:
        statement = text(OTHER_CONNECTIONS[connection.dialect.name])
        report(connections=await connection.scalar(statement))


if __name__ == "__main__":
    run_named({"hold_user": hold_user, "connections": connections})
