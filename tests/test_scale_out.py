"""Growing past one server: PgBouncer in transaction pooling mode and a PostgreSQL streaming
replica, both real and on 127.0.0.1, plus the new questions' combinations verified in full.

PgBouncer: three processes of a generated project with `pgbouncer=yes` run hundreds of
transactions at once through PgBouncer in transaction mode with zero failures; the same load
from the same project generated with `pgbouncer=no` fails, so the setting is what makes the
difference. Read replica: with `read_replica=yes`, on every server driver, reads go to a real
replica of the primary (a PostgreSQL streaming hot standby; a MariaDB GTID replica) and see a
committed row once it is replicated, writes and the reads after them go to the primary,
`use_primary()` reads a row committed a moment ago, and no write can go through the replica
route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from helpers import Render
from scenario import SCENARIOS, SERVER_DRIVERS, Report, installed, migrate, run_scenario

from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.questions import dialect_of, url_scheme_of
from sqlalchemy_async_template.servers import (
    DatabaseServer,
    mariadb_replica,
    mariadb_server,
    pgbouncer,
    postgresql_server,
    postgresql_standby,
)

POSTGRESQL_DRIVERS = ("asyncpg", "psycopg")
PROCESSES = 3
TRANSACTIONS_PER_PROCESS = 150
CONCURRENCY_PER_PROCESS = 8


@dataclass(frozen=True)
class ScaleOutServers:
    primary: DatabaseServer
    standby: DatabaseServer
    bouncer: DatabaseServer


@pytest.fixture(scope="module")
def scale_out_servers() -> Iterator[ScaleOutServers]:
    """A PostgreSQL primary of this module, a hot standby streaming from it, and PgBouncer
    in transaction pooling mode in front of it."""
    with (
        postgresql_server() as managed,
        postgresql_standby(managed.server) as standby,
        pgbouncer(managed.server, pool_mode="transaction", pool_size=4) as bouncer,
    ):
        yield ScaleOutServers(managed.server, standby, bouncer)


@dataclass(frozen=True)
class Replication:
    primary: DatabaseServer
    replica: DatabaseServer


@pytest.fixture(scope="module")
def mariadb_replication() -> Iterator[Replication]:
    """A MariaDB primary of this module and a read-only GTID replica of it."""
    with mariadb_server() as managed, mariadb_replica(managed.server) as replica:
        yield Replication(managed.server, replica)


def load_through(project: Project, label: str) -> list[Report]:
    """PROCESSES copies of the `load` scenario at once, on the project's database; their
    reports."""
    arguments = [str(TRANSACTIONS_PER_PROCESS), str(CONCURRENCY_PER_PROCESS)]
    processes = [
        project.start_script(
            SCENARIOS / "scale_out.py", project.package, "load", *arguments, f"{label}{n}"
        )
        for n in range(PROCESSES)
    ]
    reports = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    return reports


@pytest.mark.parametrize("driver", POSTGRESQL_DRIVERS)
def test_pgbouncer_transaction_mode_needs_the_setting_and_works_with_it(
    driver: str, scale_out_servers: ScaleOutServers, render: Render
) -> None:
    servers = scale_out_servers
    database = f"bouncer_{driver}"
    servers.primary.create_database(database)
    bounced_url = servers.bouncer.url(url_scheme_of(driver), database)

    with_setting = installed(
        render(Combination(driver, "annotated", "uow", extra_answers=(("pgbouncer", True),)))
    )
    without_setting = installed(render(Combination(driver, "annotated", "uow")))
    migrate(with_setting.with_database(servers.primary.url(url_scheme_of(driver), database)))

    reports = load_through(with_setting.with_database(bounced_url), "with")
    assert [report["failures"] for report in reports] == [0] * PROCESSES, reports
    assert sum(report["stored"] for report in reports) == PROCESSES * TRANSACTIONS_PER_PROCESS

    reports = load_through(without_setting.with_database(bounced_url), "without")
    failures = sum(report["failures"] for report in reports)
    reasons = " ".join(reason for report in reports for reason in report["reasons"])
    assert failures > 0, "the load passed through PgBouncer without the setting: it proves nothing"
    # Without the setting the driver keeps prepared statements, and sets the statement timeout
    # when it connects, which PgBouncer refuses in transaction pooling mode.
    assert re.search(r"prepared statement|unsupported startup parameter", reasons), reasons


@dataclass(frozen=True)
class ReplicaProject:
    """A project with `read_replica=yes` on the primary, migrated, and its replica's URL."""

    project: Project
    replica_url: str


@pytest.fixture(scope="module", params=SERVER_DRIVERS)
def replica_project(
    request: pytest.FixtureRequest,
    scale_out_servers: ScaleOutServers,
    mariadb_replication: Replication,
    render: Render,
) -> ReplicaProject:
    driver: str = request.param
    replication = (
        Replication(scale_out_servers.primary, scale_out_servers.standby)
        if dialect_of(driver) == "postgresql"
        else mariadb_replication
    )
    combination = Combination(driver, "annotated", "uow", extra_answers=(("read_replica", True),))
    database = f"replica_{driver}"
    replication.primary.create_database(database)
    project = installed(render(combination))
    scheme = url_scheme_of(driver)
    project = project.with_database(replication.primary.url(scheme, database))
    migrate(project)
    return ReplicaProject(project, replication.replica.url(scheme, database))


def test_reads_go_to_the_replica_and_writes_to_the_primary(replica_project: ReplicaProject) -> None:
    [report] = run_scenario(
        replica_project.project,
        "scale_out.py",
        "replica",
        settings={"DATABASE_REPLICA_URL": replica_project.replica_url},
    )

    assert report["own_write_visible"] is True  # a unit of work reads its own writes ...
    assert report["after_write_on_replica"] is False  # ... from the primary
    assert report["seen_on_replica"] is True, report  # the committed row reached the replica
    assert report["read_on_replica"] is True  # and plain reads ran on the replica
    # use_primary() sends reads to the primary, which has a row committed a moment ago.
    assert report["fresh_seen_through_use_primary"] is True
    assert report["forced_on_replica"] is False

    # PostgreSQL: "cannot execute INSERT in a read-only transaction"; MariaDB: "Cannot execute
    # statement in a READ ONLY transaction" and, without it, "running with the --read-only
    # option".
    errors = report["write_errors"]
    for route in ("replica_engine", "plain_engine_on_replica"):
        assert errors[route] is not None, f"a write went through {route}"
        assert re.search(r"(?i)read[- ]only", errors[route]), errors[route]
    assert report["lost_rows"] == 0


def test_without_a_replica_reads_go_to_the_primary(replica_project: ReplicaProject) -> None:
    [report] = run_scenario(replica_project.project, "scale_out.py", "fallback")
    assert report["replica_engine"] is False
    assert report["read_on_replica"] is False
