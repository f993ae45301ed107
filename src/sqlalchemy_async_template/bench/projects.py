"""The generated projects the benchmark measures: rendered, installed, given a database."""

from __future__ import annotations

from pathlib import Path

from ..databases import Databases
from ..matrix import Combination
from ..project import Project
from ..verify import install
from .errors import BenchError

PROJECT_NAME = "Bench Service"


def installed_project(combination: Combination, workdir: Path, databases: Databases) -> Project:
    """`combination` rendered into `workdir/<slug>`, installed, with a new database of its own
    (None for SQLite: the project's own file)."""
    project = Project.render(
        workdir / combination.slug, {"project_name": PROJECT_NAME, **combination.answers()}
    )
    installation = install(project)
    if not installation.passed:
        raise BenchError(f"installing {project.path} failed:\n{installation.failure_report()}")
    return databases.attach(project, f"bench_{combination.slug}")
