"""Throw-away MariaDB: a server, restartable in place, on 127.0.0.1 in its own temporary
directory.

It does not run as root: when started by root, it runs as the ``mysql`` user.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
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
    "--skip-log-bin",
)
_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes including the terminating NUL


@dataclass(frozen=True)
class MariaDBServer(DatabaseServer):
    """A MariaDB server, administered through the mariadb client."""

    dialect = "mysql"
    major_version_parts = 2  # "10.11.19" is release series 10.11

    def create_database(self, name: str) -> None:
        identifier = _identifier(name)
        _query(
            self,
            f"DROP DATABASE IF EXISTS {identifier}",
            f"CREATE DATABASE {identifier} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        )

    def terminate_connections(self, database: str) -> int:
        return int(_query(self, _terminate_sql(database)).strip() or 0)

    def version(self) -> str:
        # Debian's says "10.11.19-MariaDB-0+deb12u1-log".
        return _query(self, "SELECT VERSION()").split("-")[0].strip()


@contextmanager
def mariadb_server(workdir: Path | None = None) -> Iterator[DatabaseServer]:
    """Run a throw-away MariaDB server on 127.0.0.1 for the duration of the block.

    Its files live in a new directory inside ``workdir`` (default: the system temp directory).
    """
    with managed_mariadb_server(workdir) as managed:
        yield managed.server


@contextmanager
def managed_mariadb_server(workdir: Path | None = None) -> Iterator[ManagedServer]:
    """``mariadb_server``, yielding a handle that can also restart the server."""
    with _running_mariadb("MariaDB", workdir) as running:
        running.as_root(*_app_user_statements())
        server = MariaDBServer(HOST, running.process.port, APP_USER, APP_PASSWORD)
        yield ManagedServer(server, running.process)


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
def _running_mariadb(name: str, workdir: Path | None) -> Iterator[_RunningMariaDB]:
    """A new MariaDB server with only root@localhost."""
    programs = mariadb_programs()
    owner = service_owner("mysql")
    with server_directory(name, workdir, owner) as root:
        datadir = _install(programs, root, owner)
        command = _mariadbd_command(name, programs, datadir, owner)
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
) -> ServerCommand:
    root = datadir.parent
    socket_path = _socket(root)

    def argv(port: int) -> list[str]:
        argv = [programs.server, "--no-defaults", f"--datadir={datadir}"]
        argv += [f"--socket={socket_path}", f"--port={port}", f"--bind-address={HOST}"]
        argv += [f"--pid-file={root / 'mariadbd.pid'}", f"--tmpdir={_tmpdir(root)}"]
        argv += [*_SERVER_OPTIONS, *_STORAGE_OPTIONS]
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


def _app_user_statements() -> list[str]:
    """Add the password user for TCP (127.0.0.1) and socket (localhost) logins."""
    password = _literal(APP_PASSWORD)
    statements = []
    for host in (HOST, "localhost"):
        account = f"{_literal(APP_USER)}@{_literal(host)}"
        statements.append(f"CREATE USER {account} IDENTIFIED BY {password}")
        # ALL includes CREATE (databases) and CONNECTION ADMIN (KILL other users' connections).
        statements.append(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")
    return statements


def _query(server: MariaDBServer, *statements: str) -> str:
    """Run statements as the server's password user, over TCP; return the client's output."""
    argv = [mariadb_programs().client, "--no-defaults", "--protocol=tcp", "--connect-timeout=10"]
    argv += ["-h", server.host, "-P", str(server.port), "-u", server.user]
    argv += ["--batch", "--skip-column-names", "--default-character-set=utf8mb4"]
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
