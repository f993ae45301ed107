"""Ephemeral PostgreSQL and MariaDB servers for checking generated projects against real databases.

The template's test suite (one pair of servers per pytest-xdist worker) and the CLI start
throw-away PostgreSQL 15 and MariaDB 10.11 servers from the Debian packages. Each server lives in
a fresh temporary directory, listens only on 127.0.0.1 on a free port, and needs no systemd and
no Docker. The context managers own their server: it is stopped and its directory removed on exit,
also when the body raises, and nothing global outlives them.

Both servers refuse to run as root, so when started by root they run as the packages' service
users (``postgres`` and ``mysql``); otherwise they run as the current user.

For fault and scale-out tests there is more: ``managed_postgresql_server`` and
``managed_mariadb_server`` yield a ``ManagedServer`` that can be restarted in place (same port,
same data), ``postgresql_standby`` runs a streaming hot standby of a running PostgreSQL server,
and ``pgbouncer`` runs PgBouncer (transaction pooling by default) in front of one.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

__all__ = [
    "DatabaseServer",
    "ManagedServer",
    "ServerError",
    "ensure_installed",
    "free_port",
    "managed_mariadb_server",
    "managed_postgresql_server",
    "mariadb_server",
    "pgbouncer",
    "postgresql_server",
    "postgresql_standby",
]

HOST = "127.0.0.1"
APP_USER = "app"
# Contains characters that must be URL-quoted, so callers that build URLs carelessly fail here
# rather than against a real deployment's password.
APP_PASSWORD = "s3cret/p@ss%"

INSTALL_HINT = (
    "scripts/test installs them, or as root run: "
    "apt-get install -y --no-install-recommends postgresql mariadb-server pgbouncer"
)
_APT_PACKAGES = ("postgresql", "mariadb-server", "pgbouncer")
_PREFERRED_PG_BINDIR = Path("/usr/lib/postgresql/15/bin")
# mariadbd lives in /usr/sbin, which is usually not on a normal user's PATH.
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")

_START_TIMEOUT = 60.0  # generous: many xdist workers may start servers at the same moment
_STOP_TIMEOUT = 10.0
_COMMAND_TIMEOUT = 120.0
_POLL_INTERVAL = 0.02
_PORT_ATTEMPTS = 3
_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes including the terminating NUL
_LOG_TAIL_LINES = 60  # mariadb-install-db follows its error with ~30 lines of advice

_POSTGRES_SETTINGS = {
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

# Used by both mariadb-install-db and mariadbd so the redo log is created at its final size.
_MARIADB_STORAGE_OPTIONS = (
    "--innodb-log-file-size=16M",
    "--innodb-buffer-pool-size=64M",
    # Every server reserves kernel AIO contexts; many parallel servers can exhaust aio-max-nr.
    "--innodb-use-native-aio=0",
)
_MARIADB_SERVER_OPTIONS = (
    "--character-set-server=utf8mb4",  # the compiled-in default is latin1: emoji would fail
    "--collation-server=utf8mb4_unicode_ci",
    "--skip-log-bin",
    "--skip-name-resolve",  # no DNS lookups per connection (sandboxes often have no DNS)
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--max-connections=300",
)


class ServerError(Exception):
    """A database server could not be found, installed, started or used."""


class _PortInUseError(Exception):
    """Another process took the port between free_port() and the server binding it."""


@dataclass(frozen=True)
class DatabaseServer:
    """A running server and a password user that may create databases and kill connections."""

    dialect: str  # "postgresql" or "mysql"
    host: str
    port: int
    user: str
    password: str

    def url(self, scheme: str, database: str) -> str:
        """Return a SQLAlchemy URL such as ``postgresql+asyncpg://app:...@127.0.0.1:5432/db``."""
        user = quote(self.user, safe="")
        password = quote(self.password, safe="")
        return f"{scheme}://{user}:{password}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        """Create an empty database called ``name``, dropping any existing one first."""
        if self.dialect == "postgresql":
            identifier = _postgresql_identifier(name)
            # WITH (FORCE) also drops a database that a previous test left connections open to.
            self._execute(
                f"DROP DATABASE IF EXISTS {identifier} WITH (FORCE)",
                f"CREATE DATABASE {identifier}",
            )
        else:
            identifier = _mysql_identifier(name)
            self._execute(
                f"DROP DATABASE IF EXISTS {identifier}",
                f"CREATE DATABASE {identifier} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            )

    def terminate_connections(self, database: str) -> int:
        """Kill every other client connection to ``database``; return how many were killed."""
        if self.dialect == "postgresql":
            sql = _postgresql_terminate_sql(database)
        else:
            sql = _mysql_terminate_sql(database)
        return int(self._execute(sql).strip() or 0)

    def _execute(self, *statements: str) -> str:
        """Run statements one by one with the stock command-line client; return its output."""
        if self.dialect == "postgresql":
            argv, env = self._psql_command(statements)
        else:
            argv, env = self._mariadb_command(statements)
        return _run(argv, what=f"{self.dialect} client", env=env)

    def _psql_command(self, statements: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        psql = str(_require_postgresql() / "psql")
        argv = [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", self.host, "-p", str(self.port), "-U", self.user, "-d", "postgres"]
        # One -c per statement: psql sends each separately, so DROP DATABASE does not end up in
        # an implicit transaction block.
        for statement in statements:
            argv += ["-c", statement]
        env = _environ(PGPASSWORD=self.password, PGCONNECT_TIMEOUT="10", PGCLIENTENCODING="UTF8")
        return argv, env

    def _mariadb_command(self, statements: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        tools = _require_mariadb()
        argv = [tools.client, "--no-defaults", "--protocol=tcp", "--connect-timeout=10"]
        argv += ["-h", self.host, "-P", str(self.port), "-u", self.user]
        argv += ["--batch", "--skip-column-names", "--default-character-set=utf8mb4"]
        argv += ["-e", ";\n".join(statements)]
        # MYSQL_PWD keeps the password off the command line (and out of `ps`).
        return argv, _environ(MYSQL_PWD=self.password)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (starters retry if it is lost)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_installed() -> None:
    """Install the PostgreSQL, MariaDB and PgBouncer packages with apt-get if any is missing."""
    missing = _missing_servers()
    if not missing:
        return
    prefix = _privilege_prefix(missing)
    apt = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    # Several xdist workers may get here at once: wait for the dpkg lock instead of failing.
    lock_wait = ["-o", "DPkg::Lock::Timeout=600"]
    _run([*apt, *lock_wait, "update"], what="apt-get update", timeout=900)
    install = ["install", "-y", "--no-install-recommends", *_APT_PACKAGES]
    _run([*apt, *lock_wait, *install], what="apt-get install", timeout=1800)
    still_missing = _missing_servers()
    if still_missing:
        raise ServerError(
            f"{' and '.join(still_missing)} still not found after installing "
            f"{' '.join(_APT_PACKAGES)}; {INSTALL_HINT}"
        )


class ManagedServer:
    """A running server that its owner can restart in place: same port, same data.

    ``server`` describes it for clients; it stays valid across restarts.
    """

    def __init__(
        self,
        server: DatabaseServer,
        process: subprocess.Popen[bytes],
        start: Callable[[int], subprocess.Popen[bytes]],
        clean_stop_signal: signal.Signals,
    ) -> None:
        self.server = server
        self._process = process
        self._start = start
        self._clean_stop_signal = clean_stop_signal

    def restart(self) -> None:
        """Shut the server down cleanly (every committed transaction is kept), then start it
        again on the same port with the same data directory, as a service restart would."""
        _stop(self._process, self._clean_stop_signal)
        try:
            self._process = self._start(self.server.port)
        except _PortInUseError:
            raise ServerError(
                f"{self.server.dialect} could not restart: another process took port "
                f"{self.server.port} while it was down"
            ) from None

    def _shut_down(self, stop_signal: signal.Signals) -> None:
        _stop(self._process, stop_signal)


@contextmanager
def postgresql_server(workdir: Path | None = None) -> Iterator[DatabaseServer]:
    """Run a throw-away PostgreSQL server on 127.0.0.1 for the duration of the block.

    Its files live in a new directory inside ``workdir`` (default: the system temp directory).
    """
    with managed_postgresql_server(workdir) as managed:
        yield managed.server


@contextmanager
def mariadb_server(workdir: Path | None = None) -> Iterator[DatabaseServer]:
    """Run a throw-away MariaDB server on 127.0.0.1 for the duration of the block.

    Its files live in a new directory inside ``workdir`` (default: the system temp directory).
    """
    with managed_mariadb_server(workdir) as managed:
        yield managed.server


@contextmanager
def managed_postgresql_server(workdir: Path | None = None) -> Iterator[ManagedServer]:
    """``postgresql_server``, yielding a handle that can also restart the server."""
    bindir = _require_postgresql()
    owner = _service_owner("postgres")
    with _server_directory("sqla-postgresql-", workdir, owner) as root:
        datadir = _initdb(bindir, root, owner)

        def start(port: int) -> subprocess.Popen[bytes]:
            return _start_postgres(bindir, datadir, owner, port)

        process, port = _start_on_free_port(start, "PostgreSQL")
        server = DatabaseServer("postgresql", HOST, port, APP_USER, APP_PASSWORD)
        # SIGINT is a "fast" shutdown: it ends the sessions and writes a checkpoint.
        managed = ManagedServer(server, process, start, signal.SIGINT)
        try:
            yield managed
        finally:
            # Immediate shutdown: the postmaster kills its backends and exits once they are gone.
            managed._shut_down(signal.SIGQUIT)


@contextmanager
def managed_mariadb_server(workdir: Path | None = None) -> Iterator[ManagedServer]:
    """``mariadb_server``, yielding a handle that can also restart the server."""
    tools = _require_mariadb()
    owner = _service_owner("mysql")
    with _server_directory("sqla-mariadb-", workdir, owner) as root:
        datadir = _install_mariadb(tools, root, owner)

        def start(port: int) -> subprocess.Popen[bytes]:
            return _start_mariadb(tools, datadir, owner, port)

        process, port = _start_on_free_port(start, "MariaDB")
        server = DatabaseServer("mysql", HOST, port, APP_USER, APP_PASSWORD)
        # SIGTERM is a normal shutdown: InnoDB writes its log before the server exits.
        managed = ManagedServer(server, process, start, signal.SIGTERM)
        try:
            _create_mariadb_app_user(tools, _mariadb_socket(root))
            yield managed
        finally:
            # The data is thrown away, so there is nothing to shut down cleanly.
            managed._shut_down(signal.SIGKILL)


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
    if primary.dialect != "postgresql":
        raise ServerError(f"a PostgreSQL standby needs a PostgreSQL primary, not {primary.dialect}")
    bindir = _require_postgresql()
    owner = _service_owner("postgres")
    with _server_directory("sqla-standby-", workdir, owner) as root:
        datadir = root / "data"
        argv = [str(bindir / "pg_basebackup"), "-h", primary.host, "-p", str(primary.port)]
        argv += ["-U", primary.user, "-D", str(datadir), "-R", "-X", "stream", "-c", "fast"]
        argv += ["--no-sync"]
        _run(
            argv,
            what="pg_basebackup",
            owner=owner,
            cwd=root,
            env=_environ(PGPASSWORD=primary.password, PGCONNECT_TIMEOUT="10"),
        )
        process, port = _start_on_free_port(
            lambda port: _start_postgres(bindir, datadir, owner, port), "PostgreSQL standby"
        )
        try:
            yield DatabaseServer("postgresql", HOST, port, primary.user, primary.password)
        finally:
            _stop(process, signal.SIGQUIT)


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
    if server.dialect != "postgresql":
        raise ServerError(f"PgBouncer needs a PostgreSQL server, not {server.dialect}")
    program = _find_program("pgbouncer")
    if program is None:
        raise ServerError(
            f"PgBouncer not found (pgbouncer on PATH or in /usr/sbin): {INSTALL_HINT}"
        )
    # PgBouncer refuses to run as root, like the servers.
    owner = _service_owner("postgres")
    with _server_directory("sqla-pgbouncer-", workdir, owner) as root:

        def start(port: int) -> subprocess.Popen[bytes]:
            config = root / f"pgbouncer-{port}.ini"
            users = root / "userlist.txt"
            if not users.exists():
                _write_private_file(users, _pgbouncer_userlist(server), owner)
            _write_private_file(
                config, _pgbouncer_config(server, port, users, pool_mode, pool_size), owner
            )
            log = root / f"pgbouncer-{port}.log"
            process = _spawn([program, str(config)], owner=owner, cwd=root, log=log)
            _wait_until_ready(
                process,
                lambda: _accepts_tcp(HOST, port),
                log=log,
                what="PgBouncer",
                stop_signal=signal.SIGINT,
            )
            return process

        process, port = _start_on_free_port(start, "PgBouncer")
        try:
            yield DatabaseServer("postgresql", HOST, port, server.user, server.password)
        finally:
            _stop(process, signal.SIGINT)  # SIGINT: exit at once, closing every connection


# --- Locating and installing the servers -------------------------------------------------------


class _MariaDBTools(NamedTuple):
    server: str
    install_db: str
    client: str
    admin: str


def _postgresql_bindir() -> Path | None:
    for candidate in _postgresql_bindir_candidates():
        if all((candidate / tool).is_file() for tool in ("initdb", "postgres", "psql")):
            return candidate
    return None


def _postgresql_bindir_candidates() -> Iterator[Path]:
    yield _PREFERRED_PG_BINDIR
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.strip():
            yield Path(result.stdout.strip())
    # Other Debian releases ship another major version: newest first.
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    yield from sorted(versions, key=lambda path: _version_key(path.parent.name), reverse=True)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _require_postgresql() -> Path:
    bindir = _postgresql_bindir()
    if bindir is None:
        raise ServerError(
            f"PostgreSQL 15 not found (looked in {_PREFERRED_PG_BINDIR}, `pg_config --bindir` "
            f"and /usr/lib/postgresql/*/bin): {INSTALL_HINT}"
        )
    return bindir


def _find_program(name: str) -> str | None:
    search_path = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN_DIRS])
    return shutil.which(name, path=search_path)


def _mariadb_tools() -> _MariaDBTools | None:
    names = ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin")
    paths = [_find_program(name) for name in names]
    if None in paths:
        return None
    server, install_db, client, admin = (str(path) for path in paths)
    return _MariaDBTools(server, install_db, client, admin)


def _require_mariadb() -> _MariaDBTools:
    tools = _mariadb_tools()
    if tools is None:
        raise ServerError(
            "MariaDB not found (need mariadbd, mariadb-install-db, mariadb and mariadb-admin "
            f"on PATH or in /usr/sbin): {INSTALL_HINT}"
        )
    return tools


def _missing_servers() -> list[str]:
    missing = []
    if _postgresql_bindir() is None:
        missing.append("PostgreSQL")
    if _mariadb_tools() is None:
        missing.append("MariaDB")
    if _find_program("pgbouncer") is None:
        missing.append("PgBouncer")
    return missing


def _privilege_prefix(missing: Sequence[str]) -> list[str]:
    """Return the command prefix that runs apt-get as root, or explain how to install by hand."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    # -n: never prompt for a password; a test run must not hang waiting for one.
    if (
        sudo is not None
        and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0
    ):
        return [sudo, "-n"]
    raise ServerError(
        f"{' and '.join(missing)} not installed, and installing needs root (sudo -n is not "
        "available): run `sudo apt-get update && sudo apt-get install -y "
        f"--no-install-recommends {' '.join(_APT_PACKAGES)}`, or scripts/install-system-deps"
    )


# --- Users, directories and processes ----------------------------------------------------------


@dataclass(frozen=True)
class _Owner:
    """The unprivileged account a server runs as when we are root."""

    name: str
    uid: int
    gid: int


def _service_owner(name: str) -> _Owner | None:
    """Return the service account to run as when root (servers refuse root), else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ServerError(
            f"user {name!r} not found: as root the server must run as {name!r}, which its Debian "
            f"package creates ({INSTALL_HINT}); or run as a normal user"
        ) from None
    return _Owner(name, entry.pw_uid, entry.pw_gid)


@contextmanager
def _server_directory(prefix: str, workdir: Path | None, owner: _Owner | None) -> Iterator[Path]:
    """Create a private directory for one server, owned by ``owner``; remove it on exit."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=workdir)).resolve()
    try:
        if owner is not None:
            _check_traversable(root.parent, owner)
            _chown(root, owner)  # mkdtemp's 0700 is fine once the service user owns it
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _check_traversable(directory: Path, owner: _Owner) -> None:
    """Fail early and clearly if ``owner`` cannot reach ``directory`` (e.g. pytest's tmp_path)."""
    groups = set(os.getgrouplist(owner.name, owner.gid))
    for path in (directory, *directory.parents):
        info = path.stat()
        if info.st_uid == owner.uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            raise ServerError(
                f"{path} is not searchable by user {owner.name!r}, which runs the server when "
                f"started as root: pass a workdir whose parents are all world-searchable "
                f"(chmod o+x), or no workdir to use {tempfile.gettempdir()}"
            )


def _write_private_file(path: Path, text: str, owner: _Owner | None) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    _chown(path, owner)


def _chown(path: Path, owner: _Owner | None) -> None:
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)


def _environ(**overrides: str) -> dict[str, str]:
    return {**os.environ, **overrides}


def _run(
    argv: Sequence[str],
    *,
    what: str,
    owner: _Owner | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = _COMMAND_TIMEOUT,
) -> str:
    """Run a command to completion, as ``owner`` if given; return stdout or raise ServerError."""
    credentials = _credentials(owner)
    try:
        result = subprocess.run(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
            user=credentials.user,
            group=credentials.group,
            extra_groups=credentials.extra_groups,
        )
    except subprocess.TimeoutExpired:
        raise ServerError(f"{what} did not finish within {timeout:.0f} s: {argv[0]}") from None
    except OSError as error:
        raise ServerError(f"{what} could not be run ({error}): {INSTALL_HINT}") from None
    if result.returncode != 0:
        output = _last_lines(result.stderr + result.stdout)
        raise ServerError(f"{what} failed with exit code {result.returncode}:\n{output}")
    return result.stdout


class _Credentials(NamedTuple):
    """Popen's user/group/extra_groups: all None keeps our own identity."""

    user: int | None
    group: int | None
    extra_groups: list[int] | None


def _credentials(owner: _Owner | None) -> _Credentials:
    if owner is None:
        return _Credentials(None, None, None)
    # extra_groups=[] also drops root's supplementary groups.
    return _Credentials(owner.uid, owner.gid, [])


def _spawn(
    argv: Sequence[str], *, owner: _Owner | None, cwd: Path, log: Path
) -> subprocess.Popen[bytes]:
    """Start a long-running server with its output in ``log``.

    A new session keeps the terminal's Ctrl-C away from the server: we stop it ourselves, once.
    """
    credentials = _credentials(owner)
    with log.open("wb") as log_file:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=credentials.user,
            group=credentials.group,
            extra_groups=credentials.extra_groups,
        )


def _stop(process: subprocess.Popen[bytes], stop_signal: signal.Signals) -> None:
    """Stop a server with ``stop_signal``, falling back to SIGKILL, and reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(stop_signal)
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def _start_on_free_port(
    start: Callable[[int], subprocess.Popen[bytes]], what: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server on a free port, retrying if another process grabs the port first."""
    for _ in range(_PORT_ATTEMPTS):
        port = free_port()
        try:
            return start(port), port
        except _PortInUseError:
            continue
    raise ServerError(
        f"{what} could not bind a free port on {HOST} in {_PORT_ATTEMPTS} attempts: something "
        "keeps taking the ports it picks; check for port-scanning or port-hungry processes"
    )


def _wait_until_ready(
    process: subprocess.Popen[bytes],
    is_ready: Callable[[], bool],
    *,
    log: Path,
    what: str,
    stop_signal: signal.Signals,
) -> None:
    """Wait for ``is_ready``; on failure stop the process and raise with the end of its log."""
    try:
        _poll_until_ready(process, is_ready, log=log, what=what)
    except BaseException:
        _stop(process, stop_signal)
        raise


def _poll_until_ready(
    process: subprocess.Popen[bytes], is_ready: Callable[[], bool], *, log: Path, what: str
) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while not is_ready():
        if process.poll() is not None:
            output = _last_lines(_read_log(log))
            if "Address already in use" in output:
                raise _PortInUseError(output)
            raise ServerError(
                f"{what} exited with code {process.returncode} while starting:\n{output}"
            )
        if time.monotonic() > deadline:
            output = _last_lines(_read_log(log))
            raise ServerError(
                f"{what} did not accept connections within {_START_TIMEOUT:.0f} s "
                f"(machine overloaded?):\n{output}"
            )
        time.sleep(_POLL_INTERVAL)


def _read_log(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"


def _last_lines(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-_LOG_TAIL_LINES:])


# --- PostgreSQL ----------------------------------------------------------------------------------


def _initdb(bindir: Path, root: Path, owner: _Owner | None) -> Path:
    """Create a cluster whose superuser is the password user, and return its data directory."""
    datadir = root / "data"
    password_file = root / "password"
    _write_private_file(password_file, APP_PASSWORD, owner)
    argv = [str(bindir / "initdb"), "-D", str(datadir), "-U", APP_USER]
    # Password authentication (not trust) so that a wrongly quoted URL password fails here too.
    argv += [f"--pwfile={password_file}", "-A", "scram-sha-256"]
    argv += ["-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"]
    try:
        _run(argv, what="PostgreSQL initdb", owner=owner, cwd=root)
    finally:
        password_file.unlink()
    return datadir


def _start_postgres(
    bindir: Path, datadir: Path, owner: _Owner | None, port: int
) -> subprocess.Popen[bytes]:
    # The postmaster itself, not pg_ctl: we keep its process handle, to stop it and reap it.
    argv = [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port)]
    for name, value in _POSTGRES_SETTINGS.items():
        argv += ["-c", f"{name}={value}"]
    log = datadir.parent / f"postgresql-{port}.log"
    process = _spawn(argv, owner=owner, cwd=datadir.parent, log=log)
    _wait_until_ready(
        process,
        lambda: _postmaster_ready(datadir),
        log=log,
        what="PostgreSQL",
        stop_signal=signal.SIGQUIT,
    )
    return process


def _postmaster_ready(datadir: Path) -> bool:
    """Read the postmaster status line, as ``pg_ctl -w`` does, without spawning a client."""
    try:
        lines = (datadir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    # A hot standby that accepts read-only connections reports "standby" instead.
    return len(lines) >= 8 and lines[7].strip() in {"ready", "standby"}


def _postgresql_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _postgresql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _postgresql_terminate_sql(database: str) -> str:
    # The timeout makes pg_terminate_backend wait until each backend has really exited.
    return (
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) "
        "FROM pg_stat_activity "
        f"WHERE datname = {_postgresql_literal(database)} "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )


def _accepts_tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


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
        "logfile": "",  # log to stderr, which _spawn writes to a file
    }
    lines = ["[databases]", f"* = host={server.host} port={server.port}", "", "[pgbouncer]"]
    lines += [f"{name} = {value}" for name, value in settings.items()]
    return "\n".join(lines) + "\n"


# --- MariaDB ------------------------------------------------------------------------------------


def _mariadb_socket(root: Path) -> Path:
    return root / "mariadbd.sock"


def _mariadb_tmpdir(root: Path) -> Path:
    # Never the shared /tmp: on startup MariaDB deletes every "#sql*" file in its tmpdir, which
    # would destroy the temporary tables of servers running (or installing) in parallel.
    return root / "tmp"


def _install_mariadb(tools: _MariaDBTools, root: Path, owner: _Owner | None) -> Path:
    """Create the system tables (root@localhost without password) and return the data directory."""
    socket_path = _mariadb_socket(root)
    if len(os.fsencode(socket_path)) > _SOCKET_PATH_MAX:
        raise ServerError(
            f"MariaDB socket path {socket_path} is longer than {_SOCKET_PATH_MAX} bytes: "
            "pass a shorter workdir, or none to use the system temp directory"
        )
    datadir = root / "data"
    tmpdir = _mariadb_tmpdir(root)
    tmpdir.mkdir()
    _chown(tmpdir, owner)
    argv = [tools.install_db, "--no-defaults", "--auth-root-authentication-method=normal"]
    argv += ["--skip-test-db", "--skip-name-resolve", f"--datadir={datadir}", f"--tmpdir={tmpdir}"]
    argv += _MARIADB_STORAGE_OPTIONS
    _run(argv, what="mariadb-install-db", owner=owner, cwd=root)
    return datadir


def _start_mariadb(
    tools: _MariaDBTools, datadir: Path, owner: _Owner | None, port: int
) -> subprocess.Popen[bytes]:
    root = datadir.parent
    socket_path = _mariadb_socket(root)
    argv = [tools.server, "--no-defaults", f"--datadir={datadir}", f"--socket={socket_path}"]
    argv += [f"--port={port}", f"--bind-address={HOST}", f"--pid-file={root / 'mariadbd.pid'}"]
    argv += [f"--tmpdir={_mariadb_tmpdir(root)}", *_MARIADB_SERVER_OPTIONS]
    argv += _MARIADB_STORAGE_OPTIONS
    # Without --log-error mariadbd logs to stderr, which _spawn writes to this file.
    log = root / f"mariadbd-{port}.log"
    process = _spawn(argv, owner=owner, cwd=root, log=log)
    _wait_until_ready(
        process,
        lambda: _mariadb_answers_ping(tools, socket_path),
        log=log,
        what="MariaDB",
        stop_signal=signal.SIGKILL,
    )
    return process


def _mariadb_answers_ping(tools: _MariaDBTools, socket_path: Path) -> bool:
    argv = [tools.admin, "--no-defaults", f"--socket={socket_path}", "--user=root"]
    argv += ["--connect-timeout=2", "ping"]
    result = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    return result.returncode == 0


def _create_mariadb_app_user(tools: _MariaDBTools, socket_path: Path) -> None:
    """Add the password user for TCP (127.0.0.1) and socket (localhost) logins."""
    password = _mysql_literal(APP_PASSWORD)
    statements = []
    for host in (HOST, "localhost"):
        account = f"{_mysql_literal(APP_USER)}@{_mysql_literal(host)}"
        statements.append(f"CREATE USER {account} IDENTIFIED BY {password}")
        # ALL includes CREATE (databases) and CONNECTION ADMIN (KILL other users' connections).
        statements.append(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")
    argv = [tools.client, "--no-defaults", f"--socket={socket_path}", "--user=root"]
    argv += ["-e", ";\n".join(statements)]
    _run(argv, what="MariaDB user setup")


def _mysql_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _mysql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _mysql_terminate_sql(database: str) -> str:
    # One anonymous block, so listing and killing happen in a single client round trip.
    # DELIMITER lets the client pass the block's inner semicolons through to the server.
    return (
        "DELIMITER //\n"
        "BEGIN NOT ATOMIC\n"
        "  DECLARE killed INT DEFAULT 0;\n"
        "  FOR victim IN (\n"
        "    SELECT ID FROM information_schema.PROCESSLIST\n"
        f"    WHERE DB = {_mysql_literal(database)} AND ID <> CONNECTION_ID()\n"
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


if __name__ == "__main__":  # `python -m sqlalchemy_async_template.servers`, from scripts/test
    ensure_installed()
