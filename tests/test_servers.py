"""Start real PostgreSQL and MariaDB servers (and a MariaDB replica); use them through the
stock command-line clients."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.questions import dialect_of, url_scheme_of
from sqlalchemy_async_template.servers import (
    DatabaseServer,
    ManagedServer,
    ServerError,
    mariadb_replica,
    mariadb_server,
    pgbouncer,
    postgresql_server,
)
from sqlalchemy_async_template.servers.binaries import (
    SEARCH_PATH_VARIABLE,
    mariadb_programs,
    postgresql_bindir,
)
from sqlalchemy_async_template.servers.postgresql import PostgreSQLServer

ServerFactory = Callable[[Path | None], AbstractContextManager[ManagedServer]]

EMOJI = "🐍"
PSQL = Path("/usr/lib/postgresql/15/bin/psql")
SERVERS = pytest.mark.parametrize(
    "start_server", [postgresql_server, mariadb_server], ids=["postgresql", "mariadb"]
)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A world-searchable directory: as root the servers run as postgres/mysql, and pytest's own
    tmp_path (under a 0700 directory) is not reachable for them."""
    path = Path(tempfile.mkdtemp(prefix="test-servers-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def client_command(server: DatabaseServer, database: str, sql: str) -> list[str]:
    if server.dialect == "postgresql":
        # The real binary: Debian's /usr/bin/psql is a Perl wrapper that adds ~0.1 s per call.
        psql = str(PSQL) if PSQL.is_file() else "psql"
        # Connecting through url() also checks that libpq accepts its quoting of the password.
        url = server.url("postgresql", database)
        return [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql]
    return [
        "mariadb",
        "--no-defaults",
        "--protocol=tcp",
        f"--host={server.host}",
        f"--port={server.port}",
        f"--user={server.user}",
        "--default-character-set=utf8mb4",
        "--batch",
        "--skip-column-names",
        f"--database={database}",
        "--execute",
        sql,
    ]


def client_env(server: DatabaseServer) -> dict[str, str]:
    return {**os.environ, "MYSQL_PWD": server.password, "PGCLIENTENCODING": "UTF8"}


def execute(server: DatabaseServer, database: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        client_command(server, database, sql),
        env=client_env(server),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=30,
    )


def run_sql(server: DatabaseServer, database: str, sql: str) -> str:
    result = execute(server, database, sql)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def refused_sql(server: DatabaseServer, database: str, sql: str) -> str:
    """The error message of a statement that must fail."""
    result = execute(server, database, sql)
    assert result.returncode != 0, f"{sql!r} succeeded: {result.stdout}"
    return result.stderr.strip()


def start_sleeping_client(server: DatabaseServer, database: str) -> subprocess.Popen[bytes]:
    sleep = "SELECT pg_sleep(60)" if server.dialect == "postgresql" else "SELECT SLEEP(60)"
    return subprocess.Popen(
        client_command(server, database, sleep),
        env=client_env(server),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def terminate_until_killed(server: DatabaseServer, database: str) -> int:
    """The sleeping client needs a moment to connect: retry until it has been killed."""
    deadline = time.monotonic() + 10
    while (killed := server.terminate_connections(database)) == 0:
        assert time.monotonic() < deadline, "the sleeping client never showed up"
        time.sleep(0.05)
    return killed


def parent_pids() -> dict[int, int]:
    parents = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited while we looked
            continue
        parents[int(stat_file.parent.name)] = int(fields[1])
    return parents


def server_pids(workdir: Path) -> set[int]:
    """The server processes (found by their command line naming workdir) and all descendants."""
    pids = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(workdir).encode() in cmdline.read_bytes():
                pids.add(int(cmdline.parent.name))
        except OSError:
            continue
    parents = parent_pids()
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in pids}
        grew = not children <= pids
        pids |= children
    return pids


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has already exited


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def assert_server_gone(pids: set[int], port: int, workdir: Path) -> None:
    assert pids, "no server processes were found while it ran"
    assert not [pid for pid in pids if is_running(pid)]
    assert not port_is_open(port)
    assert not list(workdir.iterdir()), "the server directory was not removed"


@SERVERS
def test_server_round_trip(start_server: ServerFactory, workdir: Path) -> None:
    with start_server(workdir) as managed:
        server = managed.server
        assert server.host == "127.0.0.1"
        assert server.password
        assert "%" in server.url("driver", "db"), "the password should need URL-quoting"
        for database in ("alpha", "beta"):
            server.create_database(database)

        run_sql(server, "alpha", "CREATE TABLE notes (body VARCHAR(20))")
        run_sql(server, "alpha", f"INSERT INTO notes (body) VALUES ('{EMOJI}')")
        assert run_sql(server, "alpha", "SELECT body FROM notes") == EMOJI
        assert run_sql(server, "alpha", "SELECT CHAR_LENGTH(body) FROM notes") == "1"

        run_sql(server, "beta", "CREATE TABLE notes (body VARCHAR(20))")
        assert run_sql(server, "beta", "SELECT COUNT(*) FROM notes") == "0"

        client = start_sleeping_client(server, "alpha")
        assert terminate_until_killed(server, "alpha") == 1
        assert client.wait(timeout=10) != 0
        assert server.terminate_connections("alpha") == 0

        server.create_database("alpha")  # drops the old one: creating the table works again
        run_sql(server, "alpha", "CREATE TABLE notes (body VARCHAR(20))")

        pids, port = server_pids(workdir), server.port
    assert_server_gone(pids, port, workdir)


@SERVERS
def test_server_stops_when_body_raises(start_server: ServerFactory, workdir: Path) -> None:
    seen: list[tuple[set[int], int]] = []

    def crash_inside_server() -> None:
        with start_server(workdir) as managed:
            seen.append((server_pids(workdir), managed.server.port))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        crash_inside_server()
    [(pids, port)] = seen
    assert_server_gone(pids, port, workdir)


@pytest.mark.parametrize("driver", ["asyncpg", "asyncmy"])
def test_a_database_is_dropped_when_its_block_ends(driver: str, databases: Databases) -> None:
    """The janitor: a database for the block, gone afterwards, also when the block fails and
    a client is still connected to it."""
    server = databases.server(dialect_of(driver)).server
    listing = (
        "SELECT datname FROM pg_database" if server.dialect == "postgresql" else ("SHOW DATABASES")
    )
    maintenance = "postgres" if server.dialect == "postgresql" else "mysql"

    def names() -> set[str]:
        return set(run_sql(server, maintenance, listing).splitlines())

    clients: list[subprocess.Popen[bytes]] = []

    def use_and_fail(url: str | None) -> None:
        assert url is not None
        assert url.startswith(url_scheme_of(driver))
        assert "janitor_test" in names()
        run_sql(server, "janitor_test", "CREATE TABLE kept (id INT)")
        clients.append(start_sleeping_client(server, "janitor_test"))  # still connected
        raise RuntimeError("the body fails")

    try:
        with pytest.raises(RuntimeError), databases.database(driver, "janitor-test") as url:
            use_and_fail(url)
        assert "janitor_test" not in names()
    finally:
        for client in clients:
            client.kill()
            client.wait()

    with databases.database("aiosqlite", "janitor-test") as none:
        assert none is None


def test_mariadb_replica_follows_the_primary_and_refuses_writes(workdir: Path) -> None:
    with mariadb_server(workdir / "primary") as managed:
        primary = managed.server
        with mariadb_replica(primary, workdir / "replica") as replica:
            # A database, its schema and rows, all made on the primary after the replica started.
            primary.create_database("shop")
            run_sql(primary, "shop", "CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(20))")
            run_sql(primary, "shop", f"INSERT INTO notes VALUES (1, '{EMOJI}')")
            replica.catch_up()
            assert run_sql(replica, "shop", "SELECT body FROM notes") == EMOJI

            run_sql(primary, "shop", "INSERT INTO notes VALUES (2, 'later')")
            replica.catch_up()
            assert run_sql(replica, "shop", "SELECT COUNT(*) FROM notes") == "2"

            for write in ("INSERT INTO notes VALUES (3, 'mine')", "CREATE TABLE mine (id INT)"):
                assert "--read-only" in refused_sql(replica, "shop", write)
            with pytest.raises(ServerError, match="read-only"):
                replica.create_database("mine")
            assert run_sql(primary, "shop", "SELECT COUNT(*) FROM notes") == "2"

            pids, port = server_pids(workdir / "replica"), replica.port
        assert_server_gone(pids, port, workdir / "replica")
        assert run_sql(primary, "shop", "SELECT COUNT(*) FROM notes") == "2"


def installed_version(program: Path | str) -> str:
    """The first dotted number in ``program --version``: "15.18", "10.11.19"."""
    output = subprocess.run(
        [str(program), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\d+(\.\d+)+", output)
    assert match, output
    return match.group()


@pytest.mark.parametrize(
    ("start_server", "program", "major_version"),
    [
        (postgresql_server, lambda: postgresql_bindir() / "postgres", r"\d+"),
        (mariadb_server, lambda: mariadb_programs().server, r"\d+\.\d+"),
    ],
    ids=["postgresql", "mariadb"],
)
def test_server_reports_the_installed_version(
    start_server: ServerFactory,
    program: Callable[[], Path | str],
    major_version: str,
    workdir: Path,
) -> None:
    installed = installed_version(program())
    with start_server(workdir) as managed:
        server = managed.server
        assert server.version() == installed
        assert re.fullmatch(major_version, server.major_version())
        assert installed.startswith(f"{server.major_version()}.")


@pytest.mark.parametrize(
    "start",
    [
        postgresql_server,
        mariadb_server,
        lambda workdir: pgbouncer(PostgreSQLServer("127.0.0.1", 5432, "app", "unused"), workdir),
    ],
    ids=["postgresql", "mariadb", "pgbouncer"],
)
def test_missing_programs_are_one_line_naming_the_install_script(
    start: Callable[[Path], AbstractContextManager[object]],
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SEARCH_PATH_VARIABLE, str(workdir))  # an empty directory
    with pytest.raises(ServerError) as raised, start(workdir):
        pass
    message = str(raised.value)
    assert "scripts/install-system-deps" in message
    assert "\n" not in message
    assert not list(workdir.iterdir()), "nothing should be created before the programs are found"
