"""Growing past one server: PgBouncer in transaction pooling mode and a PostgreSQL streaming
replica, both real and on 127.0.0.1, plus the new questions' combinations verified in full.

PgBouncer: three processes of a generated project with `pgbouncer=yes` run hundreds of
transactions at once through PgBouncer in transaction mode with zero failures; the same load
from the same project generated with `pgbouncer=no` fails, so the setting is what makes the
difference. Read replica: with `read_replica=yes`, reads go to a hot standby of the primary and
see a committed row once it is replicated, writes go to the primary, and no write can go
through the replica route. (The replica routing is verified for the MariaDB drivers by their
generated tests, on one server: a real MariaDB replica is not part of this suite.)
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from scenario import (
    PACKAGE,
    SCENARIOS,
    Report,
    installed_project,
    migrate,
    run_scenario,
    scenario_environment,
)

from sqlalchemy_async_template.matrix import Combination, url_scheme_of
from sqlalchemy_async_template.servers import (
    DatabaseServer,
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
        postgresql_server() as primary,
        postgresql_standby(primary) as standby,
        pgbouncer(primary, pool_mode="transaction", pool_size=4) as bouncer,
    ):
        yield ScaleOutServers(primary, standby, bouncer)


def load_through(project: Path, url: str, label: str) -> list[Report]:
    """PROCESSES copies of the `load` scenario at once; their reports."""
    environment = scenario_environment(url)
    argv = [str(project / ".venv/bin/python"), str(SCENARIOS / "scale_out.py"), PACKAGE, "load"]
    processes = [
        subprocess.Popen(
            [*argv, str(TRANSACTIONS_PER_PROCESS), str(CONCURRENCY_PER_PROCESS), f"{label}{n}"],
            cwd=project,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
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
    driver: str, scale_out_servers: ScaleOutServers, tmp_path: Path
) -> None:
    servers = scale_out_servers
    database = f"bouncer_{driver}"
    servers.primary.create_database(database)
    direct_url = servers.primary.url(url_scheme_of(driver), database)
    bounced_url = servers.bouncer.url(url_scheme_of(driver), database)

    with_setting = installed_project(
        Combination(driver, "annotated", "uow", extra_answers=(("pgbouncer", True),)),
        tmp_path / "with",
    )
    without_setting = installed_project(Combination(driver, "annotated", "uow"), tmp_path / "no")
    migrate(with_setting, direct_url)

    reports = load_through(with_setting, bounced_url, "with")
    assert [report["failures"] for report in reports] == [0] * PROCESSES, reports
    assert sum(report["stored"] for report in reports) == PROCESSES * TRANSACTIONS_PER_PROCESS

    reports = load_through(without_setting, bounced_url, "without")
    failures = sum(report["failures"] for report in reports)
    reasons = " ".join(reason for report in reports for reason in report["reasons"])
    assert failures > 0, "the load passed through PgBouncer without the setting: it proves nothing"
    assert "prepared statement" in reasons, reasons


@pytest.fixture(scope="module", params=POSTGRESQL_DRIVERS)
def replica_project(
    request: pytest.FixtureRequest,
    scale_out_servers: ScaleOutServers,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, str, str]:
    """A project with `read_replica=yes`, migrated on the primary; its primary and replica URLs."""
    driver: str = request.param
    combination = Combination(driver, "annotated", "uow", extra_answers=(("read_replica", True),))
    project = installed_project(combination, tmp_path_factory.mktemp("replica") / "project")
    database = f"replica_{driver}"
    scale_out_servers.primary.create_database(database)
    primary_url = scale_out_servers.primary.url(url_scheme_of(driver), database)
    migrate(project, primary_url)
    return project, primary_url, scale_out_servers.standby.url(url_scheme_of(driver), database)


def test_reads_go_to_the_replica_and_writes_to_the_primary(
    replica_project: tuple[Path, str, str],
) -> None:
    project, primary_url, replica_url = replica_project
    environment = scenario_environment(primary_url, DATABASE_REPLICA_URL=replica_url)
    [report] = run_scenario(project, "scale_out.py", "replica", environment=environment)

    assert report["own_write_visible"] is True  # a unit of work reads its own writes ...
    assert report["after_write_in_recovery"] is False  # ... from the primary
    assert report["seen_on_replica"] is True, report  # the committed row reached the replica
    assert report["read_in_recovery"] is True  # and plain reads ran on the standby
    assert report["forced_in_recovery"] is False  # use_primary() sends them to the primary

    errors = report["write_errors"]
    assert errors["replica_engine"] is not None, "a write went through the replica route"
    assert "read-only transaction" in errors["replica_engine"]
    assert errors["plain_engine_on_standby"] is not None
    assert "read-only transaction" in errors["plain_engine_on_standby"]
    assert report["lost_rows"] == 0


def test_without_a_replica_reads_go_to_the_primary(
    replica_project: tuple[Path, str, str],
) -> None:
    project, primary_url, _ = replica_project
    [report] = run_scenario(
        project, "scale_out.py", "fallback", environment=scenario_environment(primary_url)
    )
    assert report["replica_engine"] is False
    assert report["in_recovery"] is False
