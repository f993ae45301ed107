"""The generated data layer against the raw driver it wraps, for one driver.

Renders a project (annotated models, unit of work), installs it, migrates a real database and
runs the probe (`inside/bench_probe.py`) with the project's own Python, which times the
repositories and the raw driver side by side in one process.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..databases import Databases
from ..matrix import Combination
from ..project import INSIDE, Project
from .errors import BenchError
from .projects import installed_project

PROBE = INSIDE / "bench_probe.py"
PROBE_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class DataLayerOptions:
    rows: int = 10_000
    posts: int = 1_000
    rounds: int = 5
    page_sizes: tuple[int, ...] = (10, 100, 1000)
    depths: tuple[int, ...] = (0, 1_000, 10_000, 100_000)


def bench_driver(
    driver: str, workdir: Path, databases: Databases, options: DataLayerOptions
) -> dict[str, Any]:
    """Render, install and migrate a project for `driver`, then run the probe in it."""
    project = installed_project(Combination(driver, "annotated", "uow"), workdir, databases)
    if project.database_url is None:  # SQLite: a file of the project's own
        project = project.with_database(f"sqlite+aiosqlite:///{project.path / 'bench.db'}")
    check_completed(project, project.run(["alembic", "upgrade", "head"]), "alembic upgrade head")
    arguments = [project.package, "--rows", str(options.rows), "--posts", str(options.posts)]
    arguments += ["--rounds", str(options.rounds), "--sizes", *map(str, options.page_sizes)]
    arguments += ["--depths", *map(str, options.depths)]
    completed = project.run_script(PROBE, *arguments, timeout=PROBE_TIMEOUT_SECONDS)
    probe: dict[str, Any] = json.loads(check_completed(project, completed, "the probe"))
    return summary(probe)


def check_completed(
    project: Project, completed: subprocess.CompletedProcess[str], what: str
) -> str:
    if completed.returncode != 0:
        raise BenchError(
            f"{what} failed in {project.path} (exit {completed.returncode}):\n"
            f"{completed.stdout}{completed.stderr}"
        )
    return str(completed.stdout)


def summary(probe: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of one driver, with the probe's measurements under `details`."""
    return {
        "bulk_insert_ratio": probe["bulk_insert"]["ratio"],
        "read_ratio": probe["read"]["ratio"],
        "read_orm_ratio": probe["read_orm"]["ratio"],
        "statements": probe["statements"],
        "statements_read_model": probe["statements_read_model"],
        # A page's time at the deepest depth over its time at the first: 1.0 does not grow.
        "keyset_depth_ratio": probe["depth"]["keyset"]["depth_ratio"],
        "offset_depth_ratio": probe["depth"]["offset"]["depth_ratio"],
        "details": probe,
    }
