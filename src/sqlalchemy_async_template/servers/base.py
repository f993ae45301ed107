"""What every server module hands out: the address and administration of a running server
(``DatabaseServer``), a handle that can also restart it (``ManagedServer``), and the one error
they raise (``ServerError``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar, Protocol
from urllib.parse import quote

# Every server listens on loopback only: nothing outside this machine can reach it.
HOST = "127.0.0.1"
APP_USER = "app"
# Contains characters that must be URL-quoted, so callers that build URLs carelessly fail here
# rather than against a real deployment's password.
APP_PASSWORD = "s3cret/p@ss%"
INSTALL_HINT = "run scripts/install-system-deps"


class ServerError(Exception):
    """A database server could not be found, started or used."""


@dataclass(frozen=True)
class DatabaseServer(ABC):
    """A running server and a password user that may create databases and kill connections.

    Each kind of server (``postgresql.PostgreSQLServer``, ``mariadb.MariaDBServer``) talks to
    itself through its stock command-line client.
    """

    dialect: ClassVar[str]  # SQLAlchemy's dialect name: "postgresql" or "mysql"
    # How many leading parts of version() name a release series, as Docker image tags do.
    major_version_parts: ClassVar[int]

    host: str
    port: int
    user: str
    password: str

    def url(self, scheme: str, database: str) -> str:
        """Return a SQLAlchemy URL such as ``postgresql+asyncpg://app:...@127.0.0.1:5432/db``."""
        user = quote(self.user, safe="")
        password = quote(self.password, safe="")
        return f"{scheme}://{user}:{password}@{self.host}:{self.port}/{database}"

    @abstractmethod
    def create_database(self, name: str) -> None:
        """Create an empty database called ``name``, dropping any existing one first."""

    @abstractmethod
    def drop_database(self, name: str) -> None:
        """Drop the database called ``name`` if it exists, with any connections to it."""

    @contextmanager
    def database(self, scheme: str, name: str) -> Iterator[str]:
        """A new, empty database ``name`` for the duration of the block, as a URL with
        ``scheme``; dropped on exit, also when the body fails (as pytest-postgresql's janitor
        does)."""
        self.create_database(name)
        try:
            yield self.url(scheme, name)
        finally:
            self.drop_database(name)

    @abstractmethod
    def terminate_connections(self, database: str) -> int:
        """Kill every other client connection to ``database``; return how many were killed."""

    @abstractmethod
    def version(self) -> str:
        """The server's version number, such as ``15.18`` or ``10.11.19``."""

    def major_version(self) -> str:
        """The release series, spelled as the official Docker images tag it: ``15``, ``10.11``."""
        return ".".join(self.version().split(".")[: self.major_version_parts])


class Restartable(Protocol):
    def restart(self) -> None: ...
    def shut_down(self) -> None: ...
    def start(self) -> None: ...


class ManagedServer:
    """A running server that its owner can restart in place: same port, same data.

    ``server`` describes it for clients; it stays valid across restarts.
    """

    def __init__(self, server: DatabaseServer, process: Restartable) -> None:
        self.server = server
        self._process = process

    def restart(self) -> None:
        """Shut the server down cleanly (every committed transaction is kept), then start it
        again on the same port with the same data directory, as a service restart would."""
        self._process.restart()

    @contextmanager
    def down(self) -> Iterator[None]:
        """The server shut down cleanly for the duration of the block, then started again on
        the same port with the same data, also when the block fails."""
        self._process.shut_down()
        try:
            yield
        finally:
            self._process.start()
