"""A template release reaches a project whose database holds rows, as its user lives it.

A scratch git repository of the template is tagged `v0.9.0` (the template as it is), then
`v0.9.1`: a new revision adds `posts.summary` (its `down_revision` is the template's head), and
`Post` gets the column in `models.py`. A user renders `v0.9.0` with the plain `copier copy`
(no `--trust`), migrates and fills the database, adds a model of their own at the end of
`models.py` and autogenerates its revision (after the same parent as the template's new one),
commits, and runs `copier update --defaults` with no terminal. The result is a fresh render of
`v0.9.1` plus their edits; the project's tests refuse the two heads and say what to run;
`alembic merge heads` joins them, and `alembic upgrade head` brings the new column to the
filled database with every row intact; lint, types and the project's tests pass.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import copier, git, git_commit_all, user_env
from scenario import SCENARIOS, checked_run

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.runner import PROJECT_NAME
from sqlalchemy_async_template.template import snapshot
from sqlalchemy_async_template.verify import STEPS, verify

OLD, NEW = "v0.9.0", "v0.9.1"
DRIVERS = ("aiosqlite", "asyncpg", "asyncmy")  # one per database: SQLite, PostgreSQL, MariaDB
VERSIONS = "template/migrations/versions"
MODELS = "template/src/{{package_name}}"

# ------------------------------------------------------------------ the template's v0.9.1

SUMMARY_REVISION = "c0ffee091a2b"
ANNOTATED_CONTENT = "    content: Mapped[str] = mapped_column(Text)\n"
CLASSIC_CONTENT = "    content = mapped_column(Text, nullable=False)\n"
SUMMARY_COMMENT = "    # A line for lists of posts; posts written before it came have none.\n"
ANNOTATED_SUMMARY = "    summary: Mapped[str | None] = mapped_column(String(300))\n"
CLASSIC_SUMMARY = "    summary = mapped_column(String(300))\n"


def revision_graph(versions: Path) -> dict[str, str | None]:
    """{revision: the revision it follows} of the revision files in `versions`."""
    graph: dict[str, str | None] = {}
    for path in sorted(versions.iterdir()):
        text = path.read_text(encoding="utf-8")
        revision = re.search(r'^revision: str = "(\w+)"', text, re.MULTILINE)
        if revision is None:
            continue
        follows = re.search(r'^down_revision: [^=]+= "(\w+)"', text, re.MULTILINE)
        graph[revision[1]] = follows[1] if follows else None
    return graph


def head_of(graph: dict[str, str | None]) -> str:
    (head,) = set(graph) - set(graph.values())
    return head


def summary_revision(follows: str) -> str:
    return f'''\
"""Add posts.summary.

Revision ID: {SUMMARY_REVISION}
Revises: {follows}
Create Date: 2026-12-03 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "{SUMMARY_REVISION}"
down_revision: str | None = "{follows}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("summary", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_column("summary")
'''


def insert_after(path: Path, line: str, new_lines: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(line) == 1, f"{path.name}: {line!r} is not there exactly once"
    path.write_text(text.replace(line, line + new_lines), encoding="utf-8")


def release_v0_9_1(template: Path) -> None:
    """A new revision after the template's head, never an edit of a released one, and the
    column in both model styles."""
    versions = template / VERSIONS
    follows = head_of(revision_graph(versions))
    name = (
        f"{{% if include_examples %}}20261203_{SUMMARY_REVISION}_add_posts_summary.py{{% endif %}}"
    )
    (versions / name).write_text(summary_revision(follows), encoding="utf-8")
    models = {path.name: path for path in (template / MODELS).glob("*models.py*")}
    (annotated,) = [path for name, path in models.items() if '"annotated"' in name]
    (classic,) = [path for name, path in models.items() if '"classic"' in name]
    insert_after(annotated, ANNOTATED_CONTENT, SUMMARY_COMMENT + ANNOTATED_SUMMARY)
    insert_after(classic, CLASSIC_CONTENT, SUMMARY_COMMENT + CLASSIC_SUMMARY)


@pytest.fixture(scope="module")
def template_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("releases")
    env = user_env(tmp_path_factory.mktemp("releases-home"))
    snapshot(root)
    git_commit_all(root, env, "Release 0.9.0")
    git("tag", OLD, cwd=root, env=env)
    release_v0_9_1(root)
    git_commit_all(root, env, "Release 0.9.1: posts have a summary")
    git("tag", NEW, cwd=root, env=env)
    return root


# ------------------------------------------------------------------ the user's work

BOOKMARK_MODEL = '''

class Bookmark(Base):
    """A post a user keeps to read later."""

    __tablename__ = "bookmarks"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    note: Mapped[str200]
    created_at: Mapped[created_timestamp]
'''


def uv_run(project: Project, *command: str) -> str:
    """`uv run COMMAND`, as the generated README spells the project's commands."""
    return checked_run(project, ["uv", "run", *command], timeout=600)


def rows(project: Project) -> dict[str, Any]:
    completed = project.run_script(SCENARIOS / "rows.py", project.package, "dump", timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    dumped: dict[str, Any] = json.loads(completed.stdout)
    return dumped


def project_files(root: Path, env: dict[str, str]) -> dict[str, bytes]:
    """The files git sees in `root` (tracked, or new and not ignored), with their bytes."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=root, env=env)
    return {name: (root / name).read_bytes() for name in sorted(set(listed.split("\0")) - {""})}


def conflicts_in(files: dict[str, bytes]) -> set[str]:
    marker = re.compile(r"^(<{7}|>{7})( |$)|^={7}$", re.MULTILINE)
    return {
        name
        for name, content in files.items()
        if name.endswith(".rej") or marker.search(content.decode("utf-8", errors="replace"))
    }


def render(template: Path, ref: str, destination: Path, driver: str, env: dict[str, str]) -> None:
    """The plain `copier copy`, as a user types it: no `--trust`."""
    copier(
        "copy",
        "--defaults",
        "--vcs-ref",
        ref,
        "--data",
        f"project_name={PROJECT_NAME}",
        "--data",
        f"database_driver={driver}",
        str(template),
        str(destination),
        cwd=destination.parent,
        env=env,
    )


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_release_reaches_a_database_full_of_rows(
    driver: str, template_releases: Path, databases: Databases, tmp_path: Path
) -> None:
    env = user_env(tmp_path / "home")
    render(template_releases, OLD, tmp_path / "blog", driver, env)
    project = databases.attach(Project(tmp_path / "blog"), f"update_path_{driver}")
    git_commit_all(project.path, env, "Generate the project")

    # The project in use: migrated, a model of the user's own with its revision, rows in it.
    checked_run(project, ["uv", "sync", "--quiet"], timeout=600)
    uv_run(project, "alembic", "upgrade", "head")
    models = project.path / "src" / project.package / "models.py"
    with models.open("a", encoding="utf-8") as file:
        file.write(BOOKMARK_MODEL)
    uv_run(project, "alembic", "revision", "--autogenerate", "-m", "add bookmarks")
    (users_revision,) = [
        path for path in (project.path / "migrations/versions").glob("*_add_bookmarks.py")
    ]
    uv_run(project, "alembic", "upgrade", "head")
    completed = project.run_script(SCENARIOS / "rows.py", project.package, "fill", timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    before = rows(project)
    assert all(before[table] for table in ("users", "posts", "post_tags", "tags", "bookmarks"))
    git_commit_all(project.path, env, "Bookmarks")
    users_files = project_files(project.path, env)
    added_by_the_user = git(
        "diff", "--name-only", "--diff-filter=A", "HEAD~1", "HEAD", cwd=project.path, env=env
    ).split()
    assert users_revision.relative_to(project.path).as_posix() in added_by_the_user

    # The update, with no terminal.
    output = copier("update", "--defaults", cwd=project.path, env=env)
    assert "0.9.1" in output
    assert Project(project.path).answers["_commit"] == NEW
    updated = project_files(project.path, env)
    assert conflicts_in(updated) == set(), "the update left conflicts where none can be"

    # Exactly a fresh render of v0.9.1, plus the user's edits: their model at the end of
    # models.py (below the template's new column) and the files they added: their revision
    # and uv's lock file.
    render(template_releases, NEW, tmp_path / "fresh", driver, env)
    git("init", "-q", cwd=tmp_path / "fresh", env=env)
    expected = project_files(tmp_path / "fresh", env)
    models_name = models.relative_to(project.path).as_posix()
    assert ANNOTATED_SUMMARY.encode() in expected[models_name]
    expected[models_name] += BOOKMARK_MODEL.encode()
    for name in added_by_the_user:
        expected[name] = users_files[name]
    assert sorted(updated) == sorted(expected)
    assert [name for name in expected if updated[name] != expected[name]] == []

    # The README's steps after an update. Two heads: the project's tests refuse them, and
    # say what to run: every test that needs the schema says it, and none shows Alembic's
    # error, whose advice (`upgrade heads`) would leave the two heads unmerged.
    test_database = databases.url_for(driver, f"update_path_{driver}_tests")
    tests = project.with_database(test_database)
    failed = tests.run(["uv", "run", "pytest", "-q", "-p", "no:cacheprovider"], timeout=600)
    assert failed.returncode != 0
    assert "test_migrations_have_one_head" in failed.stdout
    errors = re.findall(r"^_+ ERROR at setup of .*\n(.*)$", failed.stdout, re.MULTILINE)
    assert errors, failed.stdout
    assert all("uv run alembic merge heads" in error for error in errors), errors
    assert "Multiple head revisions" not in failed.stdout
    uv_run(project, "alembic", "merge", "heads", "-m", "merge heads")
    heads = [line for line in uv_run(project, "alembic", "heads").splitlines() if "(head)" in line]
    assert len(heads) == 1, heads

    # The filled database, upgraded: every row with its values, and the new column, empty.
    uv_run(project, "alembic", "upgrade", "head")
    after = rows(project)
    assert set(after) == set(before)
    for table in set(before) - {"alembic_version", "posts"}:
        assert after[table] == before[table], f"{table} changed"
    assert [{**row, "summary": None} for row in before["posts"]] == after["posts"]
    assert before["alembic_version"] != after["alembic_version"]
    assert "No new upgrade operations detected" in uv_run(project, "alembic", "check")

    # The project's CI: lint, types and tests, on a test database of their own.
    git_commit_all(project.path, env, "Update to the template's v0.9.1")
    ci = [step for step in STEPS if step.name in {"ruff", "mypy", "pytest"}]
    verification = verify(tests, steps=ci)
    assert verification.passed, verification.failure_report()
    assert re.search(r"\d+ passed", verification.step("pytest").output)
    assert git("status", "--porcelain", cwd=project.path, env=env) == ""
