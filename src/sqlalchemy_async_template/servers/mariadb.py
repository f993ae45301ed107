"""Throw-away MariaDB: a server (restartable in place) and a read-only replica of one, on
127.0.0.1, each in its own temporary directory.

Every server keeps a binary log with GTIDs and has a unique ``server_id`` (its port), so any of
them can be the primary of ``mariadb_replica``. A replica starts empty and replays the
primary's whole binary log, which begins right after the system tables were created: every
database, table and row made on the primary since it started reaches the replica. Accounts are
the exception: each server creates its own ``app`` user with ``sql_log_bin=0``, so the replica's
``app`` user keeps privileges that do not bypass ``--read-only``.

None of them runs as root: when started by root, they run as the ``mysql`` user.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .base import APP_PASSWORD, APP_USER, HOST, DatabaseServer, ManagedServer, ServerError
from .binaries import MariaDBPrograms, mariadb_programs
from .process import (
    Owner,
    ServerCommand,
    ServerProcess,
    make_private_directory,
    run,
    server_directory,
    service_owner,
    supervised,
)

# Used by both mariadb-install-db and mariadbd so the redo log is created at its final size.
_STORAGE_OPTIONS = (
    "--innodb-log-file-size=16M",
    "--innodb-buffer-pool-size=64M",
    # Every server reserves kernel AIO contexts; many parallel servers can exhaust aio-max-nr.
    "--innodb-use-native-aio=0",
)
_SERVER_OPTIONS = (
    "--character-set-server=utf8mb4",  # the compiled-in default is latin1: emoji would fail
    "--collation-server=utf8mb4_unicode_ci",
    "--skip-name-resolve",  # no DNS lookups per connection (sandboxes often have no DNS)
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--max-connections=300",
    # A binary log on every server, so that any of them can be a replica's primary. Never
    # synced, it adds nothing to start-up and about 0.03 ms to each autocommitted write.
    "--log-bin=mariadb-bin",
    # With a binary log, creating triggers and functions would otherwise need SUPER.
    "--log-bin-trust-function-creators=1",
    "--relay-log=relay-bin",  # named after the host otherwise
)
# ALL includes CREATE (databases) and CONNECTION ADMIN (KILL other users' connections).
_PRIMARY_PRIVILEGES = "ALL PRIVILEGES"
# Read, see and kill other connections, read the replication status; nothing that bypasses
# --read-only (SUPER and READ_ONLY ADMIN, both part of ALL).
_REPLICA_PRIVILEGES = "SELECT, SHOW VIEW, PROCESS, CONNECTION ADMIN, REPLICA MONITOR"
_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes including the terminating NUL
_CATCH_UP_TIMEOUT = 30.0


@dataclass(frozen=True)
class MariaDBServer(DatabaseServer):
    """A MariaDB server, administered through the mariadb client."""

    dialect = "mysql"
    major_version_parts = 2  # "10.11.19" is release series 10.11

    def url(self, scheme: str, database: str) -> str:
        # The drivers' own default character set is not utf8mb4 everywhere.
        return f"{super().url(scheme, database)}?charset=utf8mb4"

    def create_database(self, name: str) -> None:
        identifier = _identifier(name)
        _query(
            self,
            f"DROP DATABASE IF EXISTS {identifier}",
            f"CREATE DATABASE {identifier} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        )

    def drop_database(self, name: str) -> None:
        self.terminate_connections(name)
        _query(self, f"DROP DATABASE IF EXISTS {_identifier(name)}")

    def terminate_connections(self, database: str) -> int:
        return int(_query(self, _terminate_sql(database)).strip() or 0)

    def version(self) -> str:
        # Debian's says "10.11.19-MariaDB-0+deb12u1-log".
        return _query(self, "SELECT VERSION()").split("-")[0].strip()


@dataclass(frozen=True)
class MariaDBReplica(MariaDBServer):
    """A read-only MariaDB server replicating from ``primary``: its ``app`` user may read and
    kill connections, and every write fails with a read-only error."""

    primary: MariaDBServer

    def catch_up(self, timeout: float = _CATCH_UP_TIMEOUT) -> None:
        """Wait until everything committed on the primary so far has been applied here."""
        position = _query(self.primary, "SELECT @@gtid_binlog_pos").strip()
        waited = _query(self, f"SELECT MASTER_GTID_WAIT({_literal(position)}, {timeout})")
        if waited.strip() != "0":
            raise ServerError(
                f"the MariaDB replica on port {self.port} did not reach the primary's GTID "
                f"position {position!r} within {timeout:.0f} s ({_replication_status(self)})"
            )


@contextmanager
def mariadb_server(
    workdir: Path | None = None, *, max_connections: int | None = None
) -> Iterator[ManagedServer]:
    """Run a throw-away MariaDB server on 127.0.0.1 for the duration of the block; the handle
    describes it (``.server``) and can restart it in place.

    Its files live in a new directory inside ``workdir`` (default: the system temp directory).
    ``max_connections`` replaces the default of 300 (for tests of a small server).
    """
    options = () if max_connections is None else (f"--max-connections={max_connections}",)
    with _running_mariadb("MariaDB", workdir, *options) as running:
        running.as_root(*_app_user_statements(_PRIMARY_PRIVILEGES, grant_option=True))
        server = MariaDBServer(HOST, running.process.port, APP_USER, APP_PASSWORD)
        yield ManagedServer(server, running.process)


@contextmanager
def mariadb_replica(
    primary: DatabaseServer, workdir: Path | None = None
) -> Iterator[MariaDBReplica]:
    """Run a read-only replica of ``primary`` (a server of this module) on 127.0.0.1 for the
    duration of the block, with the same app user and password, caught up with the primary.

    It replicates with GTIDs (``MASTER_USE_GTID=slave_pos``) as the primary's own user, and
    retries every second while the primary is down. ``catch_up()`` waits for later commits.
    """
    if not isinstance(primary, MariaDBServer):
        raise ServerError(f"a MariaDB replica needs a MariaDB primary, not {primary.dialect}")
    with _running_mariadb("MariaDB replica", workdir, "--read-only") as running:
        running.as_root(
            *_app_user_statements(_REPLICA_PRIVILEGES, grant_option=False),
            _change_master_sql(primary),
            "START SLAVE",
        )
        replica = MariaDBReplica(HOST, running.process.port, APP_USER, APP_PASSWORD, primary)
        replica.catch_up()
        yield replica


@dataclass(frozen=True)
class _RunningMariaDB:
    programs: MariaDBPrograms
    process: ServerProcess
    socket: Path

    def as_root(self, *statements: str) -> None:
        """Run statements as root@localhost, which logs in through the socket only."""
        argv = [self.programs.client, "--no-defaults", f"--socket={self.socket}", "--user=root"]
        run([*argv, "-e", ";\n".join(statements)], what="MariaDB setup as root")


@contextmanager
def _running_mariadb(name: str, workdir: Path | None, *options: str) -> Iterator[_RunningMariaDB]:
    """A new MariaDB server with only root@localhost, started with ``options`` added."""
    programs = mariadb_programs()
    owner = service_owner("mysql")
    with server_directory(name, workdir, owner) as root:
        datadir = _install(programs, root, owner)
        command = _mariadbd_command(name, programs, datadir, owner, options)
        with supervised(command) as process:
            yield _RunningMariaDB(programs, process, _socket(root))


def _socket(root: Path) -> Path:
    return root / "mariadbd.sock"


def _tmpdir(root: Path) -> Path:
    # Never the shared /tmp: on startup MariaDB deletes every "#sql*" file in its tmpdir, which
    # would destroy the temporary tables of servers running (or installing) in parallel.
    return root / "tmp"


def _install(programs: MariaDBPrograms, root: Path, owner: Owner | None) -> Path:
    """Create the system tables (root@localhost without password) and return the data directory."""
    socket_path = _socket(root)
    if len(os.fsencode(socket_path)) > _SOCKET_PATH_MAX:
        raise ServerError(
            f"MariaDB socket path {socket_path} is longer than {_SOCKET_PATH_MAX} bytes: "
            "pass a shorter workdir, or none to use the system temp directory"
        )
    datadir = root / "data"
    tmpdir = make_private_directory(_tmpdir(root), owner)
    argv = [programs.install_db, "--no-defaults", "--auth-root-authentication-method=normal"]
    argv += ["--skip-test-db", "--skip-name-resolve", f"--datadir={datadir}", f"--tmpdir={tmpdir}"]
    argv += _STORAGE_OPTIONS
    run(argv, what="mariadb-install-db", owner=owner, cwd=root)
    return datadir


def _mariadbd_command(
    name: str,
    programs: MariaDBPrograms,
    datadir: Path,
    owner: Owner | None,
    options: Sequence[str],
) -> ServerCommand:
    root = datadir.parent
    socket_path = _socket(root)

    def argv(port: int) -> list[str]:
        argv = [programs.server, "--no-defaults", f"--datadir={datadir}"]
        argv += [f"--socket={socket_path}", f"--port={port}", f"--bind-address={HOST}"]
        # Ports are unique among running servers, and a restart keeps its port: so is the id.
        argv += [f"--server-id={port}", f"--pid-file={root / 'mariadbd.pid'}"]
        argv += [f"--tmpdir={_tmpdir(root)}", *_SERVER_OPTIONS, *_STORAGE_OPTIONS, *options]
        # Without --log-error mariadbd logs to stderr, which the supervisor writes to a file.
        return argv

    return ServerCommand(
        name=name,
        argv=argv,
        is_ready=lambda _port: _answers_ping(programs, socket_path),
        owner=owner,
        directory=root,
        # The data is thrown away, so there is nothing to shut down cleanly.
        stop_signal=signal.SIGKILL,
        # A normal shutdown: InnoDB writes its log before the server exits.
        restart_signal=signal.SIGTERM,
    )


def _answers_ping(programs: MariaDBPrograms, socket_path: Path) -> bool:
    argv = [programs.admin, "--no-defaults", f"--socket={socket_path}", "--user=root"]
    argv += ["--connect-timeout=2", "ping"]
    result = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    return result.returncode == 0


def _app_user_statements(privileges: str, *, grant_option: bool) -> list[str]:
    """Add the password user for TCP (127.0.0.1) and socket (localhost) logins, on this server
    only: kept out of the binary log, so that no replica copies it."""
    password = _literal(APP_PASSWORD)
    statements = ["SET SESSION sql_log_bin = 0"]
    for host in (HOST, "localhost"):
        account = f"{_literal(APP_USER)}@{_literal(host)}"
        statements.append(f"CREATE USER {account} IDENTIFIED BY {password}")
        grant = f"GRANT {privileges} ON *.* TO {account}"
        statements.append(f"{grant} WITH GRANT OPTION" if grant_option else grant)
    return statements


def _change_master_sql(primary: MariaDBServer) -> str:
    settings = {
        "MASTER_HOST": _literal(primary.host),
        "MASTER_PORT": str(primary.port),
        # The primary's app user has every privilege, REPLICATION SLAVE included.
        "MASTER_USER": _literal(primary.user),
        "MASTER_PASSWORD": _literal(primary.password),
        # With an empty gtid_slave_pos this starts at the primary's first binary log event.
        "MASTER_USE_GTID": "slave_pos",
        # Reconnect a second after the primary restarts, not the default minute.
        "MASTER_CONNECT_RETRY": "1",
    }
    return "CHANGE MASTER TO " + ", ".join(f"{name}={value}" for name, value in settings.items())


def _replication_status(replica: MariaDBReplica) -> str:
    """The replication threads' state and last errors, for a message."""
    header, _, values = _query(replica, "SHOW SLAVE STATUS", column_names=True).partition("\n")
    status = dict(zip(header.split("\t"), values.rstrip("\n").split("\t"), strict=False))
    fields = ("Slave_IO_Running", "Slave_SQL_Running", "Last_IO_Error", "Last_SQL_Error")
    return ", ".join(f"{field}: {status.get(field) or '-'}" for field in fields)


def _query(server: MariaDBServer, *statements: str, column_names: bool = False) -> str:
    """Run statements as the server's password user, over TCP; return the client's output."""
    argv = [mariadb_programs().client, "--no-defaults", "--protocol=tcp", "--connect-timeout=10"]
    argv += ["-h", server.host, "-P", str(server.port), "-u", server.user]
    argv += ["--batch", "--default-character-set=utf8mb4"]
    if not column_names:
        argv.append("--skip-column-names")
    argv += ["-e", ";\n".join(statements)]
    # MYSQL_PWD keeps the password off the command line (and out of `ps`).
    return run(argv, what="mariadb client", extra_env={"MYSQL_PWD": server.password})


def _identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _terminate_sql(database: str) -> str:
    # One anonymous block, so listing and killing happen in a single client round trip.
    # DELIMITER lets the client pass the block's inner semicolons through to the server.
    return (
        "DELIMITER //\n"
        "BEGIN NOT ATOMIC\n"
        "  DECLARE killed INT DEFAULT 0;\n"
        "  FOR victim IN (\n"
        "    SELECT ID FROM information_schema.PROCESSLIST\n"
        f"    WHERE DB = {_literal(database)} AND ID <> CONNECTION_ID()\n"
        "  ) DO\n"
        "    BEGIN\n"
        # 1094 (unknown thread): it disconnected after being listed; skip without counting it.
        "      DECLARE EXIT HANDLER FOR 1094 BEGIN END;\n"
        "      KILL CONNECTION victim.ID;\n"
        "      SET killed = killed + 1;\n"
        "    END;\n"
        "  END FOR;\n"
        "  SELECT killed;\n"
        "END//"
    )
