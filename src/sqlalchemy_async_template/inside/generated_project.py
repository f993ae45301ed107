"""A generated project seen from inside its own virtual environment.

Scripts that run with a generated project's Python (the benchmark's probe, the scenarios of the
template's tests) import the project through `GeneratedProject`, print what they measure or
observe as JSON lines with `report`, and run the scenario named on their command line with
`run_named`. The project's database is its `DATABASE_URL`, read by its own settings, exactly as
in production.

Only the standard library is imported here: the project's environment has SQLAlchemy and the
project's own package, nothing of the companion package.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import cached_property
from types import ModuleType
from typing import Any


class GeneratedProject:
    """The generated project's modules, imported by package name, and an engine and session
    factory made as the application makes them (`db.make_engine()`, `db.make_session_factory`).
    """

    def __init__(self, package: str) -> None:
        self.package = package
        self.db = self.module("db")
        self.settings = self.module("settings").get_settings()
        self.engine = self.db.make_engine()
        self.session_factory = self.db.make_session_factory(self.engine)

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    def example(self, name: str) -> ModuleType:
        """A script of the project's `examples/`; scripts run in the project's directory."""
        if os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
        return importlib.import_module(f"examples.{name}")

    @cached_property
    def models(self) -> ModuleType:
        return self.module("models")

    @cached_property
    def repositories(self) -> ModuleType:
        return self.module("repositories")

    @cached_property
    def unit_of_work(self) -> Any:
        return self.module("unit_of_work").unit_of_work

    async def close(self) -> None:
        await self.engine.dispose()


def report(**fields: Any) -> None:
    """One JSON object on a line of standard output, for the caller to read."""
    print(json.dumps(fields), flush=True)


def describe(error: BaseException) -> str:
    """An error in one line: its type and the first line of its message."""
    message = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {message}"[:300]


Scenario = Callable[..., Awaitable[None]]


def run_named(
    scenarios: Mapping[str, Scenario],
    argv: Sequence[str] | None = None,
    *,
    project_class: type[GeneratedProject] = GeneratedProject,
) -> None:
    """Run `scenarios[NAME](project, *ARGUMENTS)` for a command line `PACKAGE NAME
    [ARGUMENTS...]`, then close the project's engine."""
    package, name, *arguments = sys.argv[1:] if argv is None else argv
    if name not in scenarios:
        raise SystemExit(f"unknown scenario {name!r}: one of {', '.join(scenarios)}")

    async def main() -> None:
        project = project_class(package)
        try:
            await scenarios[name](project, *arguments)
        finally:
            await project.close()

    asyncio.run(main())
