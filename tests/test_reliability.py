"""Faults that generated projects survive, against real PostgreSQL and MariaDB servers.

For every server driver, a generated project (unit of work, with examples) runs scenarios in
its own virtual environment (tests/scenarios/reliability.py): pooled connections killed on the
server and a full server restart (the next unit of work succeeds, nothing committed is lost),
failures in the middle of a unit of work (nothing of it is committed, the session and the pool
stay usable), 200 concurrent units of work, and an exhausted pool (a clear, quick timeout).

For the FastAPI pattern, the app is served by uvicorn with a real database behind it: a commit
that fails in the database is a 5xx, and schemathesis finds no 5xx for any input it generates.
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from helpers import Render
from scenario import (
    SCENARIOS,
    SERVER_DRIVERS,
    Report,
    checked_run,
    installed,
    migrate,
    run_scenario,
    scenario_process,
)

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.servers import ManagedServer, free_port

SCHEMATHESIS = "schemathesis>=4,<5"
SCHEMATHESIS_EXAMPLES = 10  # per operation and phase: about 15 s for the example API


@dataclass(frozen=True)
class Deployment:
    """A generated project, installed and migrated, with its own database on a server that
    only this module uses (so that restarting it disturbs no other test)."""

    project: Project
    server: ManagedServer
    database: str


@pytest.fixture(scope="module")
def servers() -> Iterator[Databases]:
    with Databases() as databases:
        yield databases


def deploy(
    combination: Combination, servers: Databases, render: Render, database: str
) -> Deployment:
    project = installed(servers.attach(render(combination), database))
    migrate(project)
    return Deployment(project, servers.server(project.dialect), database)


@pytest.fixture(scope="module", params=SERVER_DRIVERS)
def deployment(request: pytest.FixtureRequest, servers: Databases, render: Render) -> Deployment:
    driver: str = request.param
    return deploy(Combination(driver, "annotated", "uow"), servers, render, f"faults_{driver}")


def survive(deployment: Deployment, label: str, fault: str) -> tuple[Report, Report]:
    """Run the `survive` scenario with `fault` ("kill" or "restart") in its middle."""
    with scenario_process(deployment.project, "reliability.py", "survive", label) as scenario:
        ready = scenario.next_report()
        assert ready["phase"] == "ready", ready
        if fault == "kill":
            killed = deployment.server.server.terminate_connections(deployment.database)
            # Every idle pooled connection was killed, and there were some.
            assert killed == ready["idle_connections"] > 0, (killed, ready)
        else:
            deployment.server.restart()
        scenario.go_on()
        done = scenario.next_report()
    return ready, done


def test_killed_pooled_connections_are_replaced_without_an_error(
    deployment: Deployment,
) -> None:
    _, done = survive(deployment, "kill", "kill")
    assert done["first_error"] is None, done  # pool_pre_ping replaced the dead connection
    assert done["errors"] == []
    assert done["missing"] == []  # every committed row, before and after, is there
    assert done["checked_out"] == 0


def test_a_server_restart_loses_no_committed_row_and_needs_no_retry(
    deployment: Deployment,
) -> None:
    _, done = survive(deployment, "restart", "restart")
    assert done["first_error"] is None, done
    assert done["errors"] == []
    assert done["missing"] == []
    assert done["checked_out"] == 0


def test_a_unit_of_work_that_fails_half_way_commits_nothing(deployment: Deployment) -> None:
    [report] = run_scenario(deployment.project, "reliability.py", "atomicity")
    assert "IntegrityError" in (report["integrity_error"] or "")
    assert report["application_error"] == ("RuntimeError: the application failed after two inserts")
    # Neither the two inserts before the duplicate nor the ones before the exception stayed.
    assert report["stored"] == ["reused@example.com", "taken@example.com"]
    assert report["session_reused"] is True
    assert report["pool_usable"] is True
    assert report["checked_out"] == 0


def test_200_concurrent_units_of_work_store_every_row(deployment: Deployment) -> None:
    pool = {"DATABASE_POOL_SIZE": "5", "DATABASE_MAX_OVERFLOW": "5"}
    [report] = run_scenario(deployment.project, "reliability.py", "concurrency", settings=pool)
    assert report["error_count"] == 0, report["errors"]
    assert report["stored"] == 200
    assert (report["pool_size"], report["max_overflow"]) == (5, 5)
    # The pool's limit held: 200 tasks shared at most pool_size + max_overflow connections.
    assert 1 < report["most_in_use"] <= 10, report
    assert report["checked_out"] == 0


def test_an_exhausted_pool_fails_fast_with_a_clear_timeout(deployment: Deployment) -> None:
    pool = {"DATABASE_POOL_SIZE": "2", "DATABASE_MAX_OVERFLOW": "0", "DATABASE_POOL_TIMEOUT": "1"}
    [report] = run_scenario(deployment.project, "reliability.py", "exhaustion", settings=pool)
    assert report["error"] is not None, "the third session got a connection"
    assert "QueuePool limit of size 2 overflow 0 reached" in report["error"]
    assert "timed out, timeout 1.00" in report["error"]
    assert 0.9 <= report["waited"] < 3, report  # pool_timeout=1: no hang
    assert report["recovered"] is True


# --- FastAPI: the app served by uvicorn, with a real database behind it -----------------------


@dataclass(frozen=True)
class ServedApi:
    deployment: Deployment
    base_url: str


def wait_for_health(base_url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "uvicorn exited while starting"
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base_url}/health did not answer 200 within {timeout} s")


@pytest.fixture(scope="module", params=["asyncpg", "aiomysql"])
def served_api(
    request: pytest.FixtureRequest, servers: Databases, render: Render
) -> Iterator[ServedApi]:
    driver: str = request.param
    deployment = deploy(
        Combination(driver, "annotated", "fastapi"), servers, render, f"api_{driver}"
    )
    project = deployment.project
    port = free_port()
    argv = ["uvicorn", f"{project.package}.api:app", "--host", "127.0.0.1", "--port", str(port)]
    with (project.path / "uvicorn.log").open("w") as log:
        process = project.start(
            [*argv, "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_health(f"http://127.0.0.1:{port}", process)
        yield ServedApi(deployment, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=30)


def post_json(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


REFUSE_AT_COMMIT = (
    "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NEW.name = 'Refused at commit' THEN RAISE EXCEPTION 'refused at commit'; END IF; "
    "RETURN NULL; END $$",
    # DEFERRABLE INITIALLY DEFERRED: the check runs at COMMIT, after every flush succeeded.
    "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON users "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()",
)


# PostgreSQL only: MariaDB has no deferred constraints, so no way to make a real COMMIT fail
# after every flush succeeded (each generated FastAPI project tests a failing commit itself).
@pytest.mark.parametrize("served_api", ["asyncpg"], indirect=True)
def test_a_commit_refused_by_the_database_is_a_server_error(served_api: ServedApi) -> None:
    project = served_api.deployment.project
    run_sql(project, *REFUSE_AT_COMMIT)
    try:
        refused = b'{"name": "Refused at commit", "email": "refused@example.com"}'
        assert post_json(f"{served_api.base_url}/users", refused) == 500
        accepted = b'{"name": "Accepted", "email": "accepted@example.com"}'
        assert post_json(f"{served_api.base_url}/users", accepted) == 201
        with urllib.request.urlopen(f"{served_api.base_url}/users/search?name=at+commit") as found:
            assert found.read() == b"[]"  # nothing of the failed request was stored
    finally:
        run_sql(
            project, "DROP TRIGGER refuse_at_commit ON users", "DROP FUNCTION refuse_at_commit()"
        )


def run_sql(project: Project, *statements: str) -> None:
    completed = project.run_script(SCENARIOS / "sql.py", project.package, *statements)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_schemathesis_finds_no_server_error(served_api: ServedApi) -> None:
    project = served_api.deployment.project
    python = project.executable("python")
    checked_run(project, ["uv", "pip", "install", "--quiet", "--python", python, SCHEMATHESIS], 600)
    argv = ["schemathesis", "run", f"{served_api.base_url}/openapi.json"]
    argv += ["--checks", "not_a_server_error", "--max-examples", str(SCHEMATHESIS_EXAMPLES)]
    argv += ["--workers", "1", "--no-shrink", "--phases", "coverage,fuzzing,stateful"]
    completed = project.run(argv, settings={"NO_COLOR": "1"}, timeout=600)
    output = completed.stdout + completed.stderr
    log = (project.path / "uvicorn.log").read_text(encoding="utf-8", errors="replace")
    assert completed.returncode == 0, f"{output}\n--- uvicorn ---\n{log[-5000:]}"
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None, output
    assert int(generated.group(1)) >= 100, output
