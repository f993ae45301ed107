"""Generated PostgreSQL projects lint the SQL of their migrations with squawk, in pre-commit and
in CI: the template's own revisions pass, for every answer that changes them, and a revision
that adds a `NOT NULL` column without a default to a table that holds rows fails."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import Render, run, strip_ansi
from scenario import installed

from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.questions import choices, dialect_of
from sqlalchemy_async_template.tools import uv_executable

POSTGRESQL_DRIVERS = tuple(d for d in choices("database_driver") if dialect_of(d) == "postgresql")
# A column every existing row must have, and none has: the classic migration that fails on a
# live table (or locks it while a default is written into every row, on old servers).
REQUIRED_COLUMN_REVISION = '''\
"""Posts are pinned or not.

Revision ID: 0a1b2c3d4e5f
Revises: {head}
Create Date: 2026-12-03 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e5f"
down_revision: str | Sequence[str] | None = "{head}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("pinned", sa.Boolean(), nullable=False))


def downgrade() -> None:
    op.drop_column("posts", "pinned")
'''
EXCUSED_STATEMENT = (
    "-- squawk-ignore adding-required-field -- the table is empty until this release\n"
    "ALTER TABLE posts ADD COLUMN pinned BOOLEAN NOT NULL"
)


def hook(project: Project, hook_id: str) -> dict[str, Any]:
    config = yaml.safe_load((project.path / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    found = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == hook_id]
    assert len(found) == 1, f"{len(found)} pre-commit hooks called {hook_id}"
    the_hook: dict[str, Any] = found[0]
    return the_hook


def run_squawk_hook(project: Project) -> tuple[int, str]:
    """The squawk hook's command, as pre-commit runs it (with `uv` on PATH)."""
    command = shlex.split(hook(project, "squawk")["entry"])
    path = f"{Path(uv_executable()).parent}{os.pathsep}{os.environ['PATH']}"
    completed = run(command, cwd=project.path, env=project.environment({"PATH": path}), check=False)
    return completed.returncode, strip_ansi(completed.stdout + completed.stderr)


@pytest.fixture(
    params=[
        pytest.param((POSTGRESQL_DRIVERS[0], "integer"), id=f"{POSTGRESQL_DRIVERS[0]}-integer"),
        pytest.param((POSTGRESQL_DRIVERS[-1], "uuid"), id=f"{POSTGRESQL_DRIVERS[-1]}-uuid"),
    ]
)
def postgresql_project(request: pytest.FixtureRequest, render: Render) -> Project:
    driver, key = request.param
    return installed(render(Combination(driver, "annotated", "uow"), primary_key=key))


def test_squawk_passes_the_shipped_revisions_and_fails_a_required_column(
    postgresql_project: Project,
) -> None:
    project = postgresql_project
    sql = project.run(["alembic", "upgrade", "head", "--sql"], timeout=120)
    assert sql.returncode == 0, sql.stderr
    assert "CREATE TABLE posts" in sql.stdout, "squawk would have had nothing to read"

    passed, output = run_squawk_hook(project)
    assert passed == 0, output
    assert "warning" not in output, output

    heads = project.run(["alembic", "heads"], timeout=120)
    (head,) = [line.split()[0] for line in heads.stdout.splitlines() if "(head)" in line]
    revision = project.path / "migrations/versions/20261203_0a1b2c3d4e5f_pin_posts.py"
    revision.write_text(REQUIRED_COLUMN_REVISION.format(head=head), encoding="utf-8")

    failed, output = run_squawk_hook(project)
    assert failed != 0, output
    assert "adding-required-field" in output, output
    assert "ADD COLUMN pinned BOOLEAN NOT NULL" in output, output

    # Excused in place, with its reason, as the README says: the same statement passes.
    excused = revision.read_text(encoding="utf-8").replace(
        'op.add_column("posts", sa.Column("pinned", sa.Boolean(), nullable=False))',
        f"op.execute({EXCUSED_STATEMENT!r})",
    )
    assert f"op.execute({EXCUSED_STATEMENT!r})" in excused
    revision.write_text(excused, encoding="utf-8")
    passed, output = run_squawk_hook(project)
    assert passed == 0, output
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    assert EXCUSED_STATEMENT.partition(" -- ")[0] in readme


@pytest.mark.parametrize("driver", choices("database_driver"))
def test_squawk_runs_in_ci_and_pre_commit_for_postgresql_alone(driver: str, render: Render) -> None:
    project = render(Combination(driver, "annotated", "uow"))
    workflow = yaml.safe_load(
        (project.path / ".github/workflows/ci.yml").read_text(encoding="utf-8")
    )
    commands = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]
    config = (project.path / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    on_postgresql = project.dialect == "postgresql"
    assert ("uvx pre-commit run squawk --all-files" in commands) is on_postgresql
    assert ("id: squawk" in config) is on_postgresql
    assert (project.path / ".squawk.toml").exists() is on_postgresql
    pyproject = (project.path / "pyproject.toml").read_text(encoding="utf-8")
    assert ("squawk-cli" in pyproject) is on_postgresql
