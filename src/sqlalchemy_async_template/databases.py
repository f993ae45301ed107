"""Real databases for generated projects: a server per database kind, started on first need,
and a new database for each project."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType

from .project import Project
from .questions import dialect_of, url_scheme_of
from .servers import ManagedServer, mariadb_server, postgresql_server


class Databases:
    """Starts a PostgreSQL or MariaDB server the first time a project needs one, and stops
    them all on `close()`. Safe to use from several threads.

    Servers are restartable (`server(dialect).restart()`, `.down()`): a test that restarts one
    must own its `Databases`, so that no other test shares the server. `max_connections`
    replaces the servers' default of 300.
    """

    def __init__(self, workdir: Path | None = None, *, max_connections: int | None = None) -> None:
        self._workdir = workdir
        self._max_connections = max_connections
        self._servers: dict[str, ManagedServer] = {}
        self._stack = ExitStack()
        self._lock = threading.Lock()

    def server(self, dialect: str) -> ManagedServer:
        with self._lock:
            if dialect not in self._servers:
                start = postgresql_server if dialect == "postgresql" else mariadb_server
                server = start(self._workdir, max_connections=self._max_connections)
                self._servers[dialect] = self._stack.enter_context(server)
            return self._servers[dialect]

    def url_for(self, driver: str, name: str) -> str | None:
        """A new, empty database called `name` (dropped first if it exists) for `driver`, as a
        SQLAlchemy URL; None for SQLite, whose projects make their own files."""
        dialect = dialect_of(driver)
        if dialect == "sqlite":
            return None
        server = self.server(dialect).server
        database = re.sub(r"\W", "_", name)
        server.create_database(database)
        return server.url(url_scheme_of(driver), database)

    @contextmanager
    def database(self, driver: str, name: str) -> Iterator[str | None]:
        """`url_for(driver, name)` for the duration of the block, the database dropped on exit,
        also when the body fails; None for SQLite."""
        url = self.url_for(driver, name)
        try:
            yield url
        finally:
            if url is not None:
                self.server(dialect_of(driver)).server.drop_database(re.sub(r"\W", "_", name))

    def attach(self, project: Project, name: str) -> Project:
        """`project` with a new database of its own, called `name`."""
        return project.with_database(self.url_for(project.driver, name))

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Databases:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
