"""Finding the installed server programs: PostgreSQL's bin directory, MariaDB's and PgBouncer's
programs. Nothing here installs anything: a missing program is a ``ServerError`` that says to
run scripts/install-system-deps.

By default PostgreSQL is looked for where Debian puts it (``/usr/lib/postgresql/15/bin``, then
``pg_config --bindir``, then other versions in ``/usr/lib/postgresql/*/bin``), and the other
programs on ``PATH`` and in the sbin directories. ``SQLA_TEMPLATE_SERVER_PATH``, a list of
directories like ``PATH``, replaces all of that: it selects another installation, for example
a newer PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from .base import INSTALL_HINT, ServerError

SEARCH_PATH_VARIABLE = "SQLA_TEMPLATE_SERVER_PATH"

_PREFERRED_POSTGRESQL_BINDIR = Path("/usr/lib/postgresql/15/bin")
_POSTGRESQL_PROGRAMS = ("initdb", "postgres", "psql", "pg_basebackup")
# mariadbd and pgbouncer live in /usr/sbin, which is usually not on a normal user's PATH.
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


class MariaDBPrograms(NamedTuple):
    server: str
    install_db: str
    client: str
    admin: str


def postgresql_bindir() -> Path:
    """The directory that holds initdb, postgres, psql and pg_basebackup together."""
    for candidate in _postgresql_bindir_candidates():
        if all((candidate / program).is_file() for program in _POSTGRESQL_PROGRAMS):
            return candidate
    default_places = "/usr/lib/postgresql/*/bin or `pg_config --bindir`"
    raise ServerError(
        f"PostgreSQL server programs ({', '.join(_POSTGRESQL_PROGRAMS)}) not found in "
        f"{_searched(default_places)}: {INSTALL_HINT}"
    )


def mariadb_programs() -> MariaDBPrograms:
    names = ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin")
    paths = [_find_program(name) for name in names]
    if None in paths:
        missing = ", ".join(name for name, path in zip(names, paths, strict=True) if path is None)
        raise ServerError(
            f"MariaDB programs ({missing}) not found in {_searched()}: {INSTALL_HINT}"
        )
    server, install_db, client, admin = (str(path) for path in paths)
    return MariaDBPrograms(server, install_db, client, admin)


def pgbouncer_program() -> str:
    program = _find_program("pgbouncer")
    if program is None:
        raise ServerError(f"PgBouncer (pgbouncer) not found in {_searched()}: {INSTALL_HINT}")
    return program


def _override() -> list[Path] | None:
    value = os.environ.get(SEARCH_PATH_VARIABLE)
    if value is None:
        return None
    return [Path(directory) for directory in value.split(os.pathsep) if directory]


def _searched(default_places: str = "PATH or /usr/sbin") -> str:
    if _override() is None:
        return default_places
    return f"{SEARCH_PATH_VARIABLE}={os.environ[SEARCH_PATH_VARIABLE]!r}"


def _postgresql_bindir_candidates() -> Iterator[Path]:
    override = _override()
    if override is not None:
        yield from override
        return
    yield _PREFERRED_POSTGRESQL_BINDIR
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


def _find_program(name: str) -> str | None:
    override = _override()
    if override is None:
        directories = [os.environ.get("PATH", os.defpath), *_SBIN_DIRS]
    else:
        directories = [str(directory) for directory in override]
    return shutil.which(name, path=os.pathsep.join(directories))
