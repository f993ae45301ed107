"""Run SQL statements on the project's `DATABASE_URL`, in one transaction, with its own engine.

    .venv/bin/python sql.py PACKAGE STATEMENT...

Statements go to the driver as they are (no bind parameters), so PL/pgSQL bodies with `$$`
quoting pass through untouched.
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import asyncio
import importlib
import sys


async def main(package: str, *statements: str) -> None:
    engine = importlib.import_module(f"{package}.db").make_engine(pooled=False)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
