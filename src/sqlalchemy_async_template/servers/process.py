"""Supervising server processes, whatever the server: run one on a free port as an unprivileged
user, wait until it is ready, restart it in place, stop it with a signal and reap it; plus the
private directories they live in and short commands run to completion.

Servers refuse to run as root, so when we are root they run as a service user (``Owner``) and
own their directories; otherwise they run as we do.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .base import HOST, INSTALL_HINT, ServerError

_START_TIMEOUT = 60.0  # generous: many xdist workers may start servers at the same moment
_STOP_TIMEOUT = 10.0
_COMMAND_TIMEOUT = 120.0
_POLL_INTERVAL = 0.02
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 60  # some installers follow their error with thirty lines of advice


class _PortInUseError(Exception):
    """Another process took the port between free_port() and the server binding it."""


@dataclass(frozen=True)
class Owner:
    """The unprivileged account a server runs as when we are root."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class ServerCommand:
    """How to run one server: its command line for a port, and how to tell that it is ready."""

    name: str  # for messages and log files: "PostgreSQL standby"
    argv: Callable[[int], list[str]]
    is_ready: Callable[[int], bool]
    owner: Owner | None
    directory: Path  # the working directory, which also holds the logs
    stop_signal: signal.Signals  # stops it at once: when it fails to start, and at the end
    restart_signal: signal.Signals  # shuts it down cleanly before a restart


class ServerProcess:
    """One server process on a fixed port, which can be shut down and started again there."""

    def __init__(self, command: ServerCommand, port: int) -> None:
        """Start ``command`` on ``port`` and wait until it is ready."""
        self.command = command
        self.port = port
        self._process = _launch(command, port)

    def restart(self) -> None:
        """Shut down with the command's clean signal, then start again on the same port."""
        self.shut_down()
        self.start()

    def shut_down(self) -> None:
        """Shut down with the command's clean signal; `start()` brings it back."""
        _stop(self._process, self.command.restart_signal)

    def start(self) -> None:
        """Start again on the same port, after `shut_down()`."""
        try:
            self._process = _launch(self.command, self.port)
        except _PortInUseError:
            raise ServerError(
                f"{self.command.name} could not restart: another process took port "
                f"{self.port} while it was down"
            ) from None

    def stop(self) -> None:
        _stop(self._process, self.command.stop_signal)


@contextmanager
def supervised(command: ServerCommand) -> Iterator[ServerProcess]:
    """Run ``command`` on a free port for the duration of the block, retrying with another
    port if some other process grabs it first; stop and reap it on exit, also on errors."""
    process = _start_on_free_port(command)
    try:
        yield process
    finally:
        process.stop()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (starters retry if it is lost)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_tcp(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def service_owner(name: str) -> Owner | None:
    """Return the service account to run as when root (servers refuse root), else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ServerError(
            f"user {name!r} not found: as root the server must run as {name!r}, which its "
            f"Debian package creates ({INSTALL_HINT}); or run as a normal user"
        ) from None
    return Owner(name, entry.pw_uid, entry.pw_gid)


@contextmanager
def server_directory(name: str, workdir: Path | None, owner: Owner | None) -> Iterator[Path]:
    """Create a private directory for the server called ``name``, owned by ``owner``; remove it
    on exit. It is made inside ``workdir``, or the system temp directory when that is None."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"sqla-{_slug(name)}-", dir=workdir)).resolve()
    try:
        if owner is not None:
            _check_traversable(root.parent, owner)
            _chown(root, owner)  # mkdtemp's 0700 is fine once the service user owns it
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def make_private_directory(path: Path, owner: Owner | None) -> Path:
    path.mkdir(mode=0o700)
    _chown(path, owner)
    return path


def write_private_file(path: Path, text: str, owner: Owner | None) -> None:
    """Write ``text`` to a new file that only ``owner`` (or we) can read: it holds passwords."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    _chown(path, owner)


def run(
    argv: Sequence[str],
    *,
    what: str,
    owner: Owner | None = None,
    cwd: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = _COMMAND_TIMEOUT,
) -> str:
    """Run a command to completion, as ``owner`` if given; return stdout or raise ServerError.

    ``extra_env`` is added to our environment (passwords go there, not on the command line,
    where `ps` would show them).
    """
    credentials = _credentials(owner)
    try:
        result = subprocess.run(
            list(argv),
            cwd=cwd,
            env={**os.environ, **(extra_env or {})},
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


def _start_on_free_port(command: ServerCommand) -> ServerProcess:
    for _ in range(_PORT_ATTEMPTS):
        try:
            return ServerProcess(command, free_port())
        except _PortInUseError:
            continue
    raise ServerError(
        f"{command.name} could not bind a free port on {HOST} in {_PORT_ATTEMPTS} attempts: "
        "something keeps taking the ports it picks; check for port-scanning or port-hungry "
        "processes"
    )


def _launch(command: ServerCommand, port: int) -> subprocess.Popen[bytes]:
    """Start the server on ``port`` and wait until it is ready; on failure stop it and raise
    with the end of its log (``_PortInUseError`` when the port was taken)."""
    log = command.directory / f"{_slug(command.name)}-{port}.log"
    process = _spawn(command.argv(port), owner=command.owner, cwd=command.directory, log=log)
    try:
        _poll_until_ready(process, lambda: command.is_ready(port), log=log, what=command.name)
    except BaseException:
        _stop(process, command.stop_signal)
        raise
    return process


def _spawn(
    argv: Sequence[str], *, owner: Owner | None, cwd: Path, log: Path
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


class _Credentials(NamedTuple):
    """Popen's user/group/extra_groups: all None keeps our own identity."""

    user: int | None
    group: int | None
    extra_groups: list[int] | None


def _credentials(owner: Owner | None) -> _Credentials:
    if owner is None:
        return _Credentials(None, None, None)
    # extra_groups=[] also drops root's supplementary groups.
    return _Credentials(owner.uid, owner.gid, [])


def _check_traversable(directory: Path, owner: Owner) -> None:
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


def _chown(path: Path, owner: Owner | None) -> None:
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def _read_log(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"


def _last_lines(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-_LOG_TAIL_LINES:])
