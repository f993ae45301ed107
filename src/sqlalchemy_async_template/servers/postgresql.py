"""Throw-away PostgreSQL: a server (restartable in place), a streaming hot standby of one, and
PgBouncer in front of one; all on 127.0.0.1, each in its own temporary directory.

None of them runs as root: when started by root, they run as the ``postgres`` user.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .base import APP_PASSWORD, APP_USER, HOST, DatabaseServer, ManagedServer, ServerError
from .binaries import pgbouncer_program, postgresql_bindir
from .process import (
    Owner,
    ServerCommand,
    accepts_tcp,
    run,
    server_directory,
    service_owner,
    supervised,
    write_private_file,
)

_SETTINGS = {
    "listen_addresses": HOST,
    # TCP only: no Unix socket means no socket-path length limit and no lock file outside the
    # data directory.
    "unix_socket_directories": "",
    "max_connections": "300",  # concurrency tests open 200 connections at once
    "shared_buffers": "32MB",  # one server per xdist worker: keep each one small
    # Durability is worthless for a throw-away server; these make DDL-heavy tests fast.
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
}


@dataclass(frozen=True)
class PostgreSQLServer(DatabaseServer):
    """A PostgreSQL server (or PgBouncer in front of one), administered through psql."""

    dialect = "postgresql"
    major_version_parts = 1  # "15.18" is release 15

    def create_database(self, name: str) -> None:
        identifier = _identifier(name)
        # WITH (FORCE) also drops a database that a previous test left connections open to.
        self._execute(
            f"DROP DATABASE IF EXISTS {identifier} WITH (FORCE)",
            f"CREATE DATABASE {identifier}",
        )

    def drop_database(self, name: str) -> None:
        self._execute(f"DROP DATABASE IF EXISTS {_identifier(name)} WITH (FORCE)")

    def terminate_connections(self, database: str) -> int:
        # The timeout makes pg_terminate_backend wait until each backend has really exited.
        killed = self._execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) "
            "FROM pg_stat_activity "
            f"WHERE datname = {_literal(database)} "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return int(killed.strip() or 0)

    def version(self) -> str:
        # Debian's says "15.18 (Debian 15.18-0+deb12u1)".
        return self._execute("SHOW server_version").split()[0]

    def _execute(self, *statements: str) -> str:
        """Run statements one by one with psql; return its output."""
        argv = [str(postgresql_bindir() / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", self.host, "-p", str(self.port), "-U", self.user, "-d", "postgres"]
        # One -c per statement: psql sends each separately, so DROP DATABASE does not end up in
        # an implicit transaction block.
        for statement in statements:
            argv += ["-c", statement]
        environment = {
            "PGPASSWORD": self.password,
            "PGCONNECT_TIMEOUT": "10",
            "PGCLIENTENCODING": "UTF8",
        }
        return run(argv, what="psql", extra_env=environment)


@contextmanager
def postgresql_server(
    workdir: Path | None = None, *, max_connections: int | None = None
) -> Iterator[ManagedServer]:
    """Run a throw-away PostgreSQL server on 127.0.0.1 for the duration of the block; the handle
    describes it (``.server``) and can restart it in place.

    Its files live in a new directory inside ``workdir`` (default: the system temp directory).
    ``max_connections`` replaces the default of 300 (for tests of a small server).
    """
    bindir = postgresql_bindir()
    owner = service_owner("postgres")
    settings = {} if max_connections is None else {"max_connections": str(max_connections)}
    with server_directory("PostgreSQL", workdir, owner) as root:
        datadir = _initdb(bindir, root, owner)
        command = _postgres_command("PostgreSQL", bindir, datadir, owner, settings)
        with supervised(command) as process:
            server = PostgreSQLServer(HOST, process.port, APP_USER, APP_PASSWORD)
            yield ManagedServer(server, process)


def _require_postgresql(server: DatabaseServer, what: str) -> None:
    if not isinstance(server, PostgreSQLServer):
        raise ServerError(f"{what} needs a PostgreSQL server, not {server.dialect}")


@contextmanager
def postgresql_standby(
    primary: DatabaseServer, workdir: Path | None = None
) -> Iterator[DatabaseServer]:
    """Run a streaming-replication hot standby of ``primary`` (a server of this module) on
    127.0.0.1 for the duration of the block: it accepts read-only connections, refuses every
    write, and replays the primary's changes as they are committed.

    It is cloned with ``pg_basebackup -R`` (which also configures the streaming connection);
    the primary's defaults (``wal_level=replica``, ten WAL senders, and its ``pg_hba.conf``
    replication lines for 127.0.0.1) already allow it.
    """
    _require_postgresql(primary, "a PostgreSQL standby")
    bindir = postgresql_bindir()
    owner = service_owner("postgres")
    with server_directory("PostgreSQL standby", workdir, owner) as root:
        datadir = root / "data"
        argv = [str(bindir / "pg_basebackup"), "-h", primary.host, "-p", str(primary.port)]
        argv += ["-U", primary.user, "-D", str(datadir), "-R", "-X", "stream", "-c", "fast"]
        argv += ["--no-sync"]
        environment = {"PGPASSWORD": primary.password, "PGCONNECT_TIMEOUT": "10"}
        run(argv, what="pg_basebackup", owner=owner, cwd=root, extra_env=environment)
        command = _postgres_command("PostgreSQL standby", bindir, datadir, owner)
        with supervised(command) as process:
            yield PostgreSQLServer(HOST, process.port, primary.user, primary.password)


@contextmanager
def pgbouncer(
    server: DatabaseServer,
    workdir: Path | None = None,
    *,
    pool_mode: str = "transaction",
    pool_size: int = 4,
) -> Iterator[DatabaseServer]:
    """Run PgBouncer on 127.0.0.1 in front of ``server`` (PostgreSQL) for the duration of the
    block, and yield the address clients use instead of the server's, same user and password.

    Every database of the server is reachable through it. In ``transaction`` pool mode, at most
    ``pool_size`` server connections per database are shared by all clients, one transaction
    at a time: exactly what breaks drivers that keep prepared statements on a connection.
    """
    _require_postgresql(server, "PgBouncer")
    program = pgbouncer_program()
    # PgBouncer refuses to run as root, like the servers.
    owner = service_owner("postgres")
    with server_directory("PgBouncer", workdir, owner) as root:
        users = root / "userlist.txt"
        write_private_file(users, _pgbouncer_userlist(server), owner)

        def argv(port: int) -> list[str]:
            # Its port is in its configuration file, so each port tried gets its own.
            config = root / f"pgbouncer-{port}.ini"
            settings = _pgbouncer_config(server, port, users, pool_mode, pool_size)
            write_private_file(config, settings, owner)
            return [program, str(config)]

        command = ServerCommand(
            name="PgBouncer",
            argv=argv,
            is_ready=accepts_tcp,
            owner=owner,
            directory=root,
            # SIGINT: exit at once, closing every connection.
            stop_signal=signal.SIGINT,
            restart_signal=signal.SIGINT,
        )
        with supervised(command) as process:
            yield PostgreSQLServer(HOST, process.port, server.user, server.password)


def _initdb(bindir: Path, root: Path, owner: Owner | None) -> Path:
    """Create a cluster whose superuser is the password user, and return its data directory."""
    datadir = root / "data"
    password_file = root / "password"
    write_private_file(password_file, APP_PASSWORD, owner)
    argv = [str(bindir / "initdb"), "-D", str(datadir), "-U", APP_USER]
    # Password authentication (not trust) so that a wrongly quoted URL password fails here too.
    argv += [f"--pwfile={password_file}", "-A", "scram-sha-256"]
    argv += ["-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"]
    try:
        run(argv, what="PostgreSQL initdb", owner=owner, cwd=root)
    finally:
        password_file.unlink()
    return datadir


def _postgres_command(
    name: str,
    bindir: Path,
    datadir: Path,
    owner: Owner | None,
    settings: Mapping[str, str] | None = None,
) -> ServerCommand:
    def argv(port: int) -> list[str]:
        # The postmaster itself, not pg_ctl: we keep its process handle, to stop it and reap it.
        argv = [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port)]
        for setting, value in (_SETTINGS | dict(settings or {})).items():
            argv += ["-c", f"{setting}={value}"]
        return argv

    return ServerCommand(
        name=name,
        argv=argv,
        is_ready=lambda _port: _postmaster_ready(datadir),
        owner=owner,
        directory=datadir.parent,
        # Immediate shutdown: the postmaster kills its backends and exits once they are gone.
        stop_signal=signal.SIGQUIT,
        # Fast shutdown: it ends the sessions and writes a checkpoint, so nothing is lost.
        restart_signal=signal.SIGINT,
    )


def _postmaster_ready(datadir: Path) -> bool:
    """Read the postmaster status line, as ``pg_ctl -w`` does, without spawning a client."""
    try:
        lines = (datadir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    # A hot standby that accepts read-only connections reports "standby" instead.
    return len(lines) >= 8 and lines[7].strip() in {"ready", "standby"}


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pgbouncer_quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _pgbouncer_userlist(server: DatabaseServer) -> str:
    # A plain-text password lets PgBouncer log in to the server with SCRAM on the client's behalf.
    return f"{_pgbouncer_quoted(server.user)} {_pgbouncer_quoted(server.password)}\n"


def _pgbouncer_config(
    server: DatabaseServer, port: int, users: Path, pool_mode: str, pool_size: int
) -> str:
    settings = {
        "listen_addr": HOST,
        "listen_port": str(port),
        "unix_socket_dir": "",  # TCP only, as the servers
        "auth_type": "scram-sha-256",
        "auth_file": str(users),
        "pool_mode": pool_mode,
        "default_pool_size": str(pool_size),
        "max_client_conn": "500",
        # psycopg and JDBC send it; PgBouncer would otherwise refuse the connection.
        "ignore_startup_parameters": "extra_float_digits",
        "logfile": "",  # log to stderr, which the supervisor writes to a file
    }
    lines = ["[databases]", f"* = host={server.host} port={server.port}", "", "[pgbouncer]"]
    lines += [f"{name} = {value}" for name, value in settings.items()]
    return "\n".join(lines) + "\n"
