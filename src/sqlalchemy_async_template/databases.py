"""Real databases for generated projects: servers started on first need, one database each."""

from __future__ import annotations

import re
import threading
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

from .matrix import Combination, url_scheme_of
from .servers import DatabaseServer, mariadb_server, postgresql_server


class Databases:
    """Starts a PostgreSQL or MariaDB server the first time a combination needs one, and
    stops them all on `close()`. Safe to use from several threads."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._workdir = workdir
        self._servers: dict[str, DatabaseServer] = {}
        self._stack = ExitStack()
        self._lock = threading.Lock()

    def server(self, dialect: str) -> DatabaseServer:
        with self._lock:
            if dialect not in self._servers:
                start = postgresql_server if dialect == "postgresql" else mariadb_server
                self._servers[dialect] = self._stack.enter_context(start(self._workdir))
            return self._servers[dialect]

    def url_for(self, combination: Combination, name: str) -> str | None:
        """A new, empty database for `combination`; None for SQLite, whose projects make
        their own files."""
        if combination.dialect == "sqlite":
            return None
        server = self.server(combination.dialect)
        database = re.sub(r"\W", "_", name)
        server.create_database(database)
        url = server.url(url_scheme_of(combination.database_driver), database)
        return f"{url}?charset=utf8mb4" if combination.dialect == "mysql" else url

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
