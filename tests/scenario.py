"""Run Python scenarios inside generated projects, for the reliability and scale-out tests.

A scenario is a script in tests/scenarios/ that imports the generated project and runs with
the project's own virtual environment, against real servers; it reports on standard output,
one JSON object per line, and the test asserts on those reports.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.render import render_combination
from sqlalchemy_async_template.servers import (
    ManagedServer,
    managed_mariadb_server,
    managed_postgresql_server,
)
from sqlalchemy_async_template.verify import install, project_environment, run_in_project

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
PACKAGE = "example_service"  # render_combination's project is "Example Service"
SERVER_DRIVERS = ("asyncpg", "psycopg", "asyncmy", "aiomysql")

Report = dict[str, Any]


def installed_project(combination: Combination, destination: Path) -> Path:
    """Render `combination` into `destination` and install it into its own .venv."""
    project = render_combination(combination, destination)
    installation = install(project)
    assert installation.passed, installation.failure_report()
    return project


def scenario_environment(database_url: str, **settings: str) -> dict[str, str]:
    """The project's environment for `database_url`, plus settings such as
    DATABASE_POOL_SIZE, and no other database setting of the environment running the tests."""
    inherited = {
        name: value
        for name, value in project_environment(database_url).items()
        if not name.startswith("DATABASE_") or name == "DATABASE_URL"
    }
    return {**inherited, **settings}


def run_command(
    project: Path, argv: list[str], environment: Mapping[str, str], timeout: float = 120
) -> str:
    """Run one of the project's commands (argv[0] from its .venv/bin); return its output."""
    completed = run_in_project(project, argv, dict(environment), timeout=timeout)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"$ {' '.join(argv)}\n{output}"
    return output


def migrate(project: Path, database_url: str) -> None:
    run_command(project, ["alembic", "upgrade", "head"], project_environment(database_url))


def run_scenario(
    project: Path,
    script: str,
    *arguments: str,
    environment: Mapping[str, str],
    timeout: float = 120,
) -> list[Report]:
    """Run a scenario to its end and return every report it printed."""
    output = run_command(
        project,
        ["python", str(SCENARIOS / script), PACKAGE, *arguments],
        environment,
        timeout=timeout,
    )
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


class ScenarioProcess:
    """A scenario that runs in phases: read its reports as they come, and let it go on."""

    def __init__(
        self, project: Path, script: str, *arguments: str, environment: Mapping[str, str]
    ) -> None:
        self._process = subprocess.Popen(
            [str(project / ".venv/bin/python"), str(SCENARIOS / script), PACKAGE, *arguments],
            cwd=project,
            env=dict(environment),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._selector = selectors.DefaultSelector()
        assert self._process.stdout is not None
        self._selector.register(self._process.stdout, selectors.EVENT_READ)

    def next_report(self, timeout: float = 60) -> Report:
        """The next JSON line of the scenario; fails with its stderr if it dies or stalls."""
        assert self._process.stdout is not None
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if not self._selector.select(remaining):
                break
            line = self._process.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                report: Report = json.loads(line)
                return report
        self._process.kill()
        _, stderr = self._process.communicate()
        raise AssertionError(f"the scenario ended or stalled without reporting:\n{stderr}")

    def go_on(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write("go\n")
        self._process.stdin.flush()

    def __enter__(self) -> ScenarioProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._selector.close()
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()


class ManagedServers:
    """Restartable PostgreSQL and MariaDB servers of one test module, started on first need
    and stopped on `close()`: tests that restart a server must not share it with others."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._servers: dict[str, ManagedServer] = {}

    def server(self, dialect: str) -> ManagedServer:
        if dialect not in self._servers:
            start = managed_postgresql_server if dialect == "postgresql" else managed_mariadb_server
            self._servers[dialect] = self._stack.enter_context(start())
        return self._servers[dialect]

    def close(self) -> None:
        self._stack.close()
