"""A generated FastAPI app run as in production, against real servers that this module owns
(so that stopping one disturbs no other test), with a small `max_connections`: the readiness
probe follows the database down and back up while liveness stays 200, an exhausted pool makes
it a 503 with the reason, and the app refuses to start when its workers' pools exceed what the
server (or `DATABASE_MAX_CONNECTIONS`) allows, saying so with the numbers.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from api_client import Response, call
from helpers import Render
from scenario import SERVER_DRIVERS, deploy, scenario_process, served

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.servers import ManagedServer

# PostgreSQL keeps 3 of them for superusers: the app may open 37 there, 40 on MariaDB. One
# worker with the default pool (5 + 10 overflow) fits, three do not.
MAX_CONNECTIONS = 40
ALLOWED = {"postgresql": MAX_CONNECTIONS - 3, "mysql": MAX_CONNECTIONS}


@dataclass(frozen=True)
class Deployment:
    project: Project
    server: ManagedServer


@pytest.fixture(scope="module")
def small_servers() -> Iterator[Databases]:
    with Databases(max_connections=MAX_CONNECTIONS) as databases:
        yield databases


@pytest.fixture(scope="module", params=SERVER_DRIVERS)
def deployment(
    request: pytest.FixtureRequest, small_servers: Databases, render: Render
) -> Deployment:
    driver: str = request.param
    project = render(Combination(driver, "annotated", "fastapi"))
    project = deploy(small_servers.attach(project, f"production_{driver}"))
    return Deployment(project, small_servers.server(project.dialect))


def ready(base_url: str) -> Response:
    return call("GET", f"{base_url}/health/ready", timeout=5)


def seconds_until(base_url: str, status: int, when: str) -> float:
    """Poll /health/ready until it answers `status`; how long that took."""
    started = time.monotonic()
    while (waited := time.monotonic() - started) < 10:
        if ready(base_url).status == status:
            return waited
        time.sleep(0.05)
    raise AssertionError(f"/health/ready did not answer {status} {when} within 10 s")


def test_readiness_follows_the_database_down_and_back_while_liveness_stays(
    deployment: Deployment,
) -> None:
    with served(deployment.project) as app:
        first = ready(app.base_url)
        assert first.status == 200, first.body
        assert first.json()["pools"]["primary"]["size"] == 5
        with deployment.server.down():
            down = seconds_until(app.base_url, 503, "with the server down")
            unready = ready(app.base_url)
            live = call("GET", f"{app.base_url}/health/live")
        back = seconds_until(app.base_url, 200, "once the server was back")
        assert call("GET", f"{app.base_url}/health/live").status == 200
    assert down < 1.5, down
    assert back < 2, back
    assert unready.json()["status"] == "unavailable"
    assert unready.json()["reason"].startswith("primary: the database is unreachable"), unready.body
    assert live.status == 200, live.body


def test_an_exhausted_pool_makes_readiness_a_503_that_says_so(deployment: Deployment) -> None:
    one_connection = {"DATABASE_POOL_SIZE": "1", "DATABASE_MAX_OVERFLOW": "0"}
    with served(deployment.project, settings=one_connection) as app:
        created = call("POST", f"{app.base_url}/users", {"name": "Ada", "email": "ada@x.org"})
        assert created.status == 201, created.body
        user = f"{app.base_url}/users/{created.json()['id']}"
        with scenario_process(deployment.project, "locks.py", "hold_user", "ada@x.org") as lock:
            assert lock.next_report()["phase"] == "locked"
            # This request holds the pool's one connection while it waits on the lock.
            stuck = threading.Thread(target=call, args=("PATCH", user, {"name": "Changed"}))
            stuck.start()
            time.sleep(0.5)
            started = time.monotonic()
            exhausted = ready(app.base_url)
            waited = time.monotonic() - started
            lock.go_on()
            assert lock.next_report()["phase"] == "released"
            stuck.join(timeout=60)
        assert seconds_until(app.base_url, 200, "after the lock was released") < 2
    assert exhausted.status == 503, exhausted.body
    body = exhausted.json()
    assert body["reason"] == "primary: the pool is exhausted: all 1 connections are in use"
    assert body["pools"]["primary"]["checked_out"] == 1
    assert 0.9 <= waited < 2, waited  # HEALTH_READY_TIMEOUT, 1 s by default


def start_up(project: Project, settings: dict[str, str]) -> tuple[int | None, str]:
    """Serve the app with uvicorn and `settings`: its exit code and output when it refuses to
    start, None when it is still serving after its start-up."""
    argv = ["uvicorn", f"{project.package}.api:app", "--host", "127.0.0.1", "--port", "0"]
    log = project.path / "start-up.log"
    with log.open("w") as output:
        process = project.start(argv, settings=settings, stdout=output, stderr=output)
    try:
        returncode = process.wait(timeout=180)
    except subprocess.TimeoutExpired:
        returncode = None
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
    return returncode, log.read_text(encoding="utf-8", errors="replace")


def test_workers_whose_pools_exceed_the_server_are_refused_with_the_numbers(
    deployment: Deployment,
) -> None:
    allowed = ALLOWED[deployment.project.dialect]
    port = deployment.server.server.port
    returncode, output = start_up(deployment.project, {"WEB_CONCURRENCY": "3"})
    # uvicorn's supervisor stops when a worker fails to start (it exits 0 even so).
    assert returncode is not None, output
    assert (
        "3 workers x (5 DATABASE_POOL_SIZE + 10 DATABASE_MAX_OVERFLOW) = 45 connections, "
        f"but the server at 127.0.0.1:{port} allows {allowed}"
    ) in output, output
    # Two workers fit in the server's budget, and start.
    with served(deployment.project, settings={"WEB_CONCURRENCY": "2"}) as app:
        assert ready(app.base_url).status == 200


def test_database_max_connections_sets_the_budget_behind_a_pooler(
    deployment: Deployment,
) -> None:
    behind_a_pooler = {"DATABASE_MAX_CONNECTIONS": "10"}
    returncode, output = start_up(deployment.project, behind_a_pooler)
    assert returncode == 3, output  # uvicorn's exit code for a failed start-up
    assert "= 15 connections, but DATABASE_MAX_CONNECTIONS allows 10" in output, output
