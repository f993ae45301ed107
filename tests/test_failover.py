"""Losing the PostgreSQL primary under writes: the FastAPI app, given the primary and a
synchronous streaming standby in libpq's multi-host `DATABASE_URL` with
`target_session_attrs=read-write`, keeps running while the primary is killed and the standby
promoted. Requests during the switch are 503 with `Retry-After` (never a 500, never longer
than the statement timeout), writes succeed again within 5 s of the promotion, and every write
that got a 201 is on the new primary. No restart of the app.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from api_client import call
from helpers import Render
from scenario import installed, migrate, served

from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.questions import url_scheme_of
from sqlalchemy_async_template.servers import DatabaseServer, postgresql_server, postgresql_standby
from sqlalchemy_async_template.servers.postgresql import PostgreSQLServer

STATEMENT_TIMEOUT_SECONDS = 5
WRITERS = 4
RECOVERY_LIMIT_SECONDS = 5


@dataclass(frozen=True)
class Write:
    started: float
    seconds: float
    status: int | str
    retry_after: str | None
    name: str


def multi_host_url(driver: str, database: str, *servers: DatabaseServer) -> str:
    """libpq's multi-host form, as the generated README shows it."""
    first = servers[0]
    hosts = "&".join(f"host={server.host}:{server.port}" for server in servers)
    credentials = f"{quote(first.user, safe='')}:{quote(first.password, safe='')}"
    return (
        f"{url_scheme_of(driver)}://{credentials}@/{database}"
        f"?{hosts}&target_session_attrs=read-write"
    )


class Writers:
    """Threads that create tags through the API one after the other, recording each answer."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.writes: list[Write] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(n,)) for n in range(WRITERS)]

    def _write(self, writer: int) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            name = f"w{writer}-{number}"
            started = time.monotonic()
            try:
                response = call(
                    "POST",
                    f"{self.base_url}/tags",
                    {"name": name},
                    timeout=STATEMENT_TIMEOUT_SECONDS * 4,
                )
                status: int | str = response.status
                retry_after = response.headers.get("Retry-After")
            except OSError as error:  # no answer at all: what the test must never see
                status, retry_after = repr(error), None
            self.writes.append(
                Write(started, time.monotonic() - started, status, retry_after, name)
            )
            if status != 201:
                time.sleep(0.05)

    def __enter__(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def stored_tag_names(base_url: str) -> set[str]:
    names: set[str] = set()
    cursor = ""
    while True:
        response = call("GET", f"{base_url}/tags?limit=100{cursor}")
        assert response.status == 200, response
        page = response.json()
        names |= {tag["name"] for tag in page["items"]}
        if page["next_cursor"] is None:
            return names
        cursor = f"&cursor={page['next_cursor']}"


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
def test_the_app_rides_out_a_failover_of_the_primary(driver: str, render: Render) -> None:
    project = installed(render(Combination(driver, "annotated", "fastapi")))
    with postgresql_server() as managed:
        primary = managed.server
        assert isinstance(primary, PostgreSQLServer)
        primary.create_database("failover")
        # Synchronous replication: a commit returns once the standby has it, so a write that
        # got its 201 survives the loss of the primary.
        primary._execute(
            "ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()"
        )
        with postgresql_standby(primary) as standby:
            assert isinstance(standby, PostgreSQLServer)
            project = project.with_database(multi_host_url(driver, "failover", primary, standby))
            migrate(project)
            settings = {"DATABASE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT_SECONDS)}
            with served(project, settings) as app, Writers(app.base_url) as writers:
                time.sleep(2)
                killed = time.monotonic()
                with managed.down():
                    time.sleep(1)
                    promoted = time.monotonic()
                    standby._execute("SELECT pg_promote()")
                    time.sleep(RECOVERY_LIMIT_SECONDS + 1)
                    writers.__exit__()
                    report = failover_report(writers.writes, killed, promoted)
                    print(json.dumps({"driver": driver, **report}))
                    assert report["before"] > 0, report
                    assert report["statuses_during"].keys() <= {"201", "503"}, report
                    assert report["without_retry_after"] == 0, report
                    assert report["longest_seconds"] <= STATEMENT_TIMEOUT_SECONDS + 1, report
                    assert report["recovered_seconds"] is not None, report
                    assert report["recovered_seconds"] <= RECOVERY_LIMIT_SECONDS, report
                    assert set(report["after"]) == {"201"}, report
                    acknowledged = {w.name for w in writers.writes if w.status == 201}
                    assert acknowledged <= stored_tag_names(app.base_url)
                assert "Traceback" not in app.log(), app.log()[-3000:]


def failover_report(writes: list[Write], killed: float, promoted: float) -> dict[str, Any]:
    """What the writers saw: before the kill, during the switch, after the first 201 that
    followed the promotion."""
    recovered = min(
        (w.started + w.seconds for w in writes if w.started > promoted and w.status == 201),
        default=None,
    )
    during = [
        w
        for w in writes
        if w.started + w.seconds > killed and (recovered is None or w.started < recovered)
    ]
    return {
        "before": sum(1 for w in writes if w.started + w.seconds <= killed),
        "statuses_during": dict(Counter(str(w.status) for w in during)),
        "failed_during": sum(1 for w in during if w.status != 201),
        "without_retry_after": sum(1 for w in during if w.status == 503 and w.retry_after is None),
        "longest_seconds": round(max((w.seconds for w in during), default=0.0), 2),
        "recovered_seconds": None if recovered is None else round(recovered - promoted, 2),
        "after": dict(
            Counter(str(w.status) for w in writes if recovered and w.started > recovered)
        ),
    }
