"""What the scenario scripts share: the generated project's modules, the JSON reports, and
running the scenario named on the command line.

Scenario scripts run as `.venv/bin/python SCRIPT PACKAGE SCENARIO [ARGUMENTS...]`, so this
directory is on their import path.
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Awaitable, Callable
from typing import Any


def report(**fields: Any) -> None:
    """One JSON object on a line of standard output, for the test to read."""
    print(json.dumps(fields), flush=True)


class Project:
    """The generated project's modules, imported by package name."""

    def __init__(self, package: str) -> None:
        self.db = importlib.import_module(f"{package}.db")
        self.settings = importlib.import_module(f"{package}.settings").get_settings()
        self.models = importlib.import_module(f"{package}.models")
        self.unit_of_work = importlib.import_module(f"{package}.unit_of_work").unit_of_work


def run_scenario(
    make_project: Callable[[str], Project],
    scenarios: dict[str, Callable[..., Awaitable[None]]],
    package: str,
    scenario: str,
    *arguments: str,
) -> None:
    """Run `scenarios[scenario](project, *arguments)`, then close the project's engine."""
    if scenario not in scenarios:
        raise SystemExit(f"unknown scenario {scenario!r}: one of {', '.join(scenarios)}")

    async def main() -> None:
        project = make_project(package)
        try:
            await scenarios[scenario](project, *arguments)
        finally:
            await project.db.get_engine().dispose()

    asyncio.run(main())
