"""Ephemeral PostgreSQL and MariaDB servers for checking generated projects against real databases.

The template's test suite (one pair of servers per pytest-xdist worker) and the CLI start
throw-away servers from the installed packages (scripts/install-system-deps installs them).
Each server lives in a fresh temporary directory, listens only on 127.0.0.1 on a free port, and
needs no systemd and no Docker. The context managers own their server: it is stopped and its
directory removed on exit, also when the body raises, and nothing global outlives them.

- ``base``: what callers hold: ``DatabaseServer``, ``ManagedServer``, ``ServerError``.
- ``process``: supervising a server process (ports, service users, directories, signals).
- ``binaries``: finding the installed server programs.
- ``postgresql``: a server, a streaming hot standby of one, PgBouncer in front of one.
- ``mariadb``: a server, a read-only GTID replica of one.
"""

from .base import DatabaseServer, ManagedServer, ServerError
from .mariadb import MariaDBReplica, mariadb_replica, mariadb_server
from .postgresql import pgbouncer, postgresql_server, postgresql_standby
from .process import free_port

__all__ = [
    "DatabaseServer",
    "ManagedServer",
    "MariaDBReplica",
    "ServerError",
    "free_port",
    "mariadb_replica",
    "mariadb_server",
    "pgbouncer",
    "postgresql_server",
    "postgresql_standby",
]
