"""Faults that generated projects survive, against real PostgreSQL and MariaDB servers.

For every server driver, a generated project (unit of work, with examples) runs scenarios in
its own virtual environment (tests/scenarios/reliability.py): pooled connections killed on the
server and a full server restart (the next unit of work succeeds, nothing committed is lost),
failures in the middle of a unit of work (nothing of it is committed, the session and the pool
stay usable), 200 concurrent units of work, and an exhausted pool (a clear, quick timeout).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from helpers import Render
from scenario import (
    SERVER_DRIVERS,
    Report,
    deploy,
    run_scenario,
    scenario_process,
)

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.servers import ManagedServer


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


@pytest.fixture(scope="module", params=SERVER_DRIVERS)
def deployment(request: pytest.FixtureRequest, servers: Databases, render: Render) -> Deployment:
    driver: str = request.param
    database = f"faults_{driver}"
    project = deploy(servers.attach(render(Combination(driver, "annotated", "uow")), database))
    return Deployment(project, servers.server(project.dialect), database)


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
