"""Run scenarios inside generated projects, for the reliability and scale-out tests.

A scenario is a script in tests/scenarios/ that imports the generated project (through
`generated_project`, see `Project.run_script`) and runs with the project's own virtual
environment, against real servers; it reports on standard output, one JSON object per line,
and the test asserts on those reports.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api_client import Response, call

from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.questions import choices, dialect_of
from sqlalchemy_async_template.servers import free_port
from sqlalchemy_async_template.verify import install

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SERVER_DRIVERS = tuple(d for d in choices("database_driver") if dialect_of(d) != "sqlite")

Report = dict[str, Any]


def installed(project: Project) -> Project:
    """`project`, installed into its own .venv."""
    installation = install(project)
    assert installation.passed, installation.failure_report()
    return project


def checked_run(project: Project, command: list[str], timeout: float = 120) -> str:
    """Run one of the project's commands, which must succeed; return its output."""
    completed = project.run(command, timeout=timeout)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"$ {' '.join(command)}\n{output}"
    return output


def migrate(project: Project) -> None:
    checked_run(project, ["alembic", "upgrade", "head"])


def deploy(project: Project) -> Project:
    """`project` installed and its database migrated, ready to serve."""
    installed(project)
    migrate(project)
    return project


def run_scenario(
    project: Project,
    script: str,
    *arguments: str,
    settings: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> list[Report]:
    """Run a scenario to its end and return every report it printed."""
    completed = project.run_script(
        SCENARIOS / script, project.package, *arguments, settings=settings, timeout=timeout
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]


class ScenarioProcess:
    """A scenario that runs in phases: read its reports as they come, and let it go on."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        assert process.stdout is not None
        self._stdout = process.stdout

    def next_report(self, timeout: float = 60) -> Report:
        """The next JSON line of the scenario; fails with its stderr if it dies or stalls."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self._stdout, selectors.EVENT_READ)
            while (remaining := deadline - time.monotonic()) > 0:
                if not selector.select(remaining):
                    break
                line = self._stdout.readline()
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


@contextmanager
def scenario_process(
    project: Project, script: str, *arguments: str, settings: Mapping[str, str] | None = None
) -> Iterator[ScenarioProcess]:
    """Start a scenario that runs in phases; it is stopped when the block ends."""
    process = project.start_script(
        SCENARIOS / script, project.package, *arguments, settings=settings
    )
    try:
        yield ScenarioProcess(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def stopped_with_requests_in_flight(
    project: Project, request: Callable[[int], Response], count: int, stop: Callable[[], None]
) -> list[Response | OSError]:
    """Send `count` requests (`request(n)`) that all wait on the row lock of the user
    ada@x.org, `stop` the server while they wait, then release the lock: what each got, a
    response or the error of a connection the server closed or never accepted."""

    def outcome(number: int) -> Response | OSError:
        try:
            return request(number)
        except OSError as refused:
            return refused

    with (
        scenario_process(project, "locks.py", "hold_user", "ada@x.org") as lock,
        ThreadPoolExecutor(count) as clients,
    ):
        assert lock.next_report()["phase"] == "locked"
        responses = [clients.submit(outcome, number) for number in range(count)]
        time.sleep(2)
        stop()
        time.sleep(1)
        lock.go_on()
        assert lock.next_report()["phase"] == "released"
        return [response.result() for response in responses]


@dataclass(frozen=True)
class Served:
    """A generated FastAPI app served by uvicorn, with its database behind it."""

    project: Project
    process: subprocess.Popen[str]
    base_url: str

    def log(self) -> str:
        return (self.project.path / "uvicorn.log").read_text(encoding="utf-8", errors="replace")


@contextmanager
def served(project: Project, settings: Mapping[str, str] | None = None) -> Iterator[Served]:
    """Serve the project's app on a free port until the block ends (SIGTERM, then a wait)."""
    port = free_port()
    argv = ["uvicorn", f"{project.package}.api:app", "--host", "127.0.0.1", "--port", str(port)]
    with (project.path / "uvicorn.log").open("w") as log:
        process = project.start(
            [*argv, "--log-level", "warning"],
            settings=settings,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    app = Served(project, process, f"http://127.0.0.1:{port}")
    try:
        wait_for_health(app)
        yield app
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=60)


def wait_for_health(app: Served, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert app.process.poll() is None, f"uvicorn exited while starting:\n{app.log()}"
        try:
            if call("GET", f"{app.base_url}/health", timeout=5).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/health did not answer 200 within {timeout} s:\n{app.log()}")
