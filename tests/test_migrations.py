"""Migrations a generated project lives with for years: the revisions the template ships are
never rewritten, and a migration that cannot get its lock in time gives up instead of stalling
the database."""

from __future__ import annotations

import re
import selectors
import subprocess
import time
from pathlib import Path

import pytest
from helpers import Render
from revisions import (
    answer_sets,
    down_revision,
    fingerprint,
    recorded,
    render_revisions,
    revision_id,
)
from scenario import checked_run, deploy, scenario_process

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project

HOW_TO_CHANGE = (
    "A released revision is never rewritten: a database already at it would never get the"
    " change. Restore it, and make the change in a new revision whose down_revision is the"
    ' current head (CONTRIBUTING.md, "Changing the example models").'
)


@pytest.mark.parametrize("combination", answer_sets(), ids=lambda c: c.slug)
def test_the_revisions_the_template_ships_are_never_rewritten(
    combination: Combination, tmp_path: Path
) -> None:
    """Each revision renders, for each answer set, exactly as it was recorded when released;
    the revisions form one line, each after the one before."""
    rendered = render_revisions(combination, tmp_path / "project")
    fingerprints = recorded()
    for name, by_answers in fingerprints.items():
        if combination.slug in by_answers:
            assert name in rendered, f"{name} is gone for {combination.slug}. {HOW_TO_CHANGE}"
            assert fingerprint(rendered[name]) == by_answers[combination.slug], (
                f"{name} differs from the one released for {combination.slug}. {HOW_TO_CHANGE}"
            )
    unrecorded = [name for name in rendered if combination.slug not in fingerprints.get(name, {})]
    assert not unrecorded, (
        f"{', '.join(unrecorded)} has no fingerprint for {combination.slug}: once it is final,"
        " record it with `uv run python tests/revisions.py`."
    )

    revisions = {revision_id(text): down_revision(text) for text in rendered.values()}
    (first,) = [revision for revision, down in revisions.items() if down is None]
    line = [first]
    while following := [revision for revision, down in revisions.items() if down == line[-1]]:
        assert len(following) == 1, f"{line[-1]} has more than one next revision: {following}"
        line.append(following[0])
    assert sorted(line) == sorted(revisions), f"revisions outside the line {line}: {revisions}"


LOCK_TIMEOUT_SECONDS = 1
ADD_SUBTITLE = '''"""Add posts.subtitle.

Revision ID: 0c0ffee5b7e1
Revises: {down_revision}
"""

import sqlalchemy as sa
from alembic import op

revision = "0c0ffee5b7e1"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("subtitle", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("posts", "subtitle")
'''


def line_with(process: subprocess.Popen[str], text: str, timeout: float = 60) -> str:
    """What `process` logged (on standard error) up to the first line that holds `text`."""
    assert process.stderr is not None
    logged = ""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline and selector.select(deadline - time.monotonic()):
            line = process.stderr.readline()
            logged += line
            if not line or text in line:
                return logged
    raise AssertionError(f"no line with {text!r} within {timeout} s:\n{logged}")


def current_revision(project: Project) -> str:
    """The revision the project's database is at, as `alembic current` says."""
    output = checked_run(project, ["alembic", "current"])
    revisions = re.findall(r"^([0-9a-f]{12})\b", output, flags=re.MULTILINE)
    assert len(revisions) == 1, output
    return str(revisions[0])


@pytest.mark.parametrize("driver", ["asyncpg", "asyncmy"])
def test_a_migration_behind_a_lock_gives_up_in_time_and_stalls_no_reader(
    driver: str, render: Render, databases: Databases
) -> None:
    """A transaction holds a row of `posts` while `alembic upgrade` adds a column: the ALTER
    waits DATABASE_MIGRATION_LOCK_TIMEOUT at most, a reader queued behind it is answered, the
    database stays at its revision, and the same upgrade succeeds once the lock is gone."""
    combination = Combination(driver, "annotated", "uow")
    project = deploy(databases.attach(render(combination), f"lock_timeout_{driver}"))
    previous = current_revision(project)
    versions = project.path / "migrations" / "versions"
    (versions / "20990101_0c0ffee5b7e1_add_posts_subtitle.py").write_text(
        ADD_SUBTITLE.format(down_revision=previous), encoding="utf-8"
    )
    settings = {"DATABASE_MIGRATION_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS)}

    with (
        scenario_process(project, "migration_locks.py", "hold_post") as holder,
        scenario_process(project, "migration_locks.py", "read_posts") as reader,
    ):
        assert holder.next_report() == {"phase": "locked"}
        assert reader.next_report() == {"phase": "ready"}
        upgrade = project.start(["alembic", "upgrade", "head"], settings=settings)
        holder.go_on()
        assert holder.next_report() == {"phase": "alter waiting"}
        alter_seen_waiting = time.monotonic()
        reader.go_on()
        first_error_line = line_with(upgrade, "waited more than")
        upgrade_failed = time.monotonic()
        stdout, stderr = upgrade.communicate(timeout=60)
        read = reader.next_report()

        output = first_error_line + stdout + stderr
        assert upgrade.returncode != 0, output
        assert upgrade_failed - alter_seen_waiting < LOCK_TIMEOUT_SECONDS + 1, output
        assert f"waited more than {LOCK_TIMEOUT_SECONDS} s for a lock" in output, output
        assert "ALTER TABLE posts ADD" in output, output
        assert "Run `alembic upgrade head` again" in output, output
        assert "DATABASE_MIGRATION_LOCK_TIMEOUT" in output, output
        assert "Traceback" not in output, output
        assert read.get("posts") == 1, read
        assert read["seconds"] < LOCK_TIMEOUT_SECONDS + 0.5, read
        assert current_revision(project) == previous

        holder.go_on()
        assert holder.next_report() == {"phase": "released"}

    checked_run(project, ["alembic", "upgrade", "head"])
    assert current_revision(project) == "0c0ffee5b7e1"
