"""A user's first week with a generated project, step by step, as the READMEs print it.

Each journey drives a generated project the way its user does: the project's own commands, in
a subprocess, from its directory, against the real database of its driver.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
from helpers import Render, data_options, git, git_commit_all, run, squeeze, user_env
from typer.testing import CliRunner

from sqlalchemy_async_template.cli import DISTRIBUTION, app
from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project, inherited_environment
from sqlalchemy_async_template.questions import asked, choices, url_scheme_of
from sqlalchemy_async_template.servers import free_port
from sqlalchemy_async_template.template import locate, snapshot
from sqlalchemy_async_template.tools import copier_executable, uv_executable
from sqlalchemy_async_template.verify import install

SQLA_TEMPLATE = str(Path(sys.executable).parent / "sqla-template")


def sqla_template(
    *arguments: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`sqla-template ARGUMENTS...` as a user types it, outside any project's settings."""
    return subprocess.run(
        [SQLA_TEMPLATE, *arguments],
        cwd=cwd,
        env=inherited_environment() | (env or {}),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def configure_database(project: Project, url: str) -> None:
    """Point the project's `.env` at `url`, as a user edits it for their own server."""
    env_file = project.path / ".env"
    lines = env_file.read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if not line.startswith("DATABASE_URL=")]
    env_file.write_text("\n".join([*lines, f"DATABASE_URL={url}", ""]), encoding="utf-8")


# ------------------------------------------------------------------ verify leaves the data alone

# The user's data: written and read back by the project's own code, with its own settings.
SEED = """
import asyncio, sys
from sqlalchemy.ext.asyncio import AsyncSession
from {package}.db import make_engine
from {package}.models import Post, User
from {package}.settings import get_settings

async def main() -> None:
    engine = make_engine(get_settings().database_url)
    async with AsyncSession(engine) as session, session.begin():
        for n in range(3):
            user = User(name=f"User {{n}}", email=f"user{{n}}@example.com")
            session.add(user)
            await session.flush()
            session.add(Post(title=f"Post {{n}}", content="Kept.", author_id=user.id))
    await engine.dispose()

asyncio.run(main())
"""
SNAPSHOT = """
import asyncio, json
from sqlalchemy import text
from {package}.db import make_engine
from {package}.settings import get_settings

LIST_DATABASES = {{
    "postgresql": "SELECT datname FROM pg_database",
    "mysql": "SHOW DATABASES",
}}

async def main() -> None:
    engine = make_engine(get_settings().database_url)
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT name, email FROM users ORDER BY name"))
        users = rows.all()
        posts = (await connection.scalars(text("SELECT title FROM posts ORDER BY title"))).all()
        version = (await connection.scalars(text("SELECT version_num FROM alembic_version"))).all()
        listing = LIST_DATABASES.get(connection.dialect.name)
        databases = [] if listing is None else (await connection.scalars(text(listing))).all()
    await engine.dispose()
    print(json.dumps({{
        "users": [list(row) for row in users], "posts": list(posts), "version": list(version),
        "databases": sorted(databases),
    }}))

asyncio.run(main())
"""


def data_of(project: Project) -> dict[str, list[object]]:
    completed = project.run(["python", "-c", SNAPSHOT.format(package=project.package)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    found: dict[str, list[object]] = json.loads(completed.stdout)
    return found


def project_with_data(render: Render, databases: Databases, driver: str) -> Project:
    """A project configured for a database of its own (its `.env`), installed, migrated and
    holding the user's rows."""
    project = render(Combination(driver, "annotated", "uow"))
    url = databases.url_for(driver, f"journey_{driver}")
    if url is not None:
        configure_database(project, url)
    for command in (
        ["uv", "sync", "--quiet"],
        ["alembic", "upgrade", "head"],
        ["python", "-c", SEED.format(package=project.package)],
    ):
        completed = project.run(command)
        assert completed.returncode == 0, completed.stdout + completed.stderr
    return project


@pytest.mark.parametrize("driver", choices("database_driver"))
def test_verify_and_the_projects_tests_leave_the_users_rows_alone(
    driver: str, render: Render, databases: Databases, mypy_cache: Path
) -> None:
    project = project_with_data(render, databases, driver)
    before = data_of(project)
    assert before["users"] == [[f"User {n}", f"user{n}@example.com"] for n in range(3)]
    assert len(before["posts"]) == 3
    assert len(before["version"]) == 1

    # From the directory that holds the project, naming it as a user does: a relative path.
    verified = sqla_template(
        "verify",
        project.path.name,
        env={"MYPY_CACHE_DIR": str(mypy_cache)},
        cwd=project.path.parent,
    )
    output = verified.stdout + verified.stderr
    assert verified.returncode == 0, output
    assert re.search(r"alembic\s+passed", output), output
    assert re.search(r"pytest\s+passed", output), output
    # Every row is still there, the schema still at head, and the throw-away database gone.
    assert data_of(project) == before

    if project.dialect != "sqlite":
        # The project's own tests, run as its README says (no TEST_DATABASE_URL): on a
        # database of their own, never on the development database.
        completed = project.run(["pytest", "-q", "-p", "no:cacheprovider"])
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert re.search(r"\d+ passed", completed.stdout), completed.stdout
        after = data_of(project)
        assert {key: after[key] for key in ("users", "posts", "version")} == {
            key: before[key] for key in ("users", "posts", "version")
        }
        assert set(after["databases"]) - set(before["databases"]) == {
            f"journey_{driver}_test",
            *([f"journey_{driver}_test_template"] if project.dialect == "postgresql" else []),
        }


def test_verify_refuses_a_database_url_that_holds_rows(
    render: Render, databases: Databases
) -> None:
    project = project_with_data(render, databases, "asyncpg")
    before = data_of(project)
    own_database = configured_url(project)

    refused = sqla_template("verify", str(project.path), "--database-url", own_database)
    output = refused.stdout + refused.stderr
    assert refused.returncode == 1, output
    held = re.search(r"Refusing to verify against a database that holds (\d+) rows", output)
    assert held is not None, output
    assert int(held.group(1)) == len(before["users"]) + len(before["posts"]) + 1
    assert "--database-url" in output
    assert "Traceback" not in output
    assert not re.search(r"(ruff|alembic|pytest)\s+(passed|failed)", output), output
    assert data_of(project) == before


def configured_url(project: Project) -> str:
    """The DATABASE_URL of the project's `.env`."""
    for line in (project.path / ".env").read_text(encoding="utf-8").splitlines():
        if line.startswith("DATABASE_URL="):
            return line.removeprefix("DATABASE_URL=")
    raise AssertionError("no DATABASE_URL in .env")


# As the server's administrator: a user who owns one database and may create no other.
LIMITED_USER = """
import asyncio, sys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

async def main(url: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text("DROP DATABASE IF EXISTS limited_db"))
        await connection.execute(text("DROP ROLE IF EXISTS limited"))
        await connection.execute(text("CREATE ROLE limited LOGIN NOCREATEDB PASSWORD 'pw'"))
        await connection.execute(text("CREATE DATABASE limited_db OWNER limited"))
    await engine.dispose()

asyncio.run(main(sys.argv[1]))
"""


def test_verify_without_the_right_to_create_a_database_refuses_naming_database_url(
    render: Render, databases: Databases
) -> None:
    project = render(Combination("asyncpg", "annotated", "uow"))
    admin_url = databases.url_for("asyncpg", "journey_admin")
    assert admin_url is not None
    completed = project.run(["uv", "sync", "--quiet"])
    assert completed.returncode == 0, completed.stderr
    completed = project.run(["python", "-c", LIMITED_USER, admin_url])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    address = admin_url.split("@", 1)[1].split("/", 1)[0]
    configure_database(project, f"postgresql+asyncpg://limited:pw@{address}/limited_db")

    refused = sqla_template("verify", str(project.path))
    output = refused.stdout + refused.stderr
    assert refused.returncode == 1, output
    (line,) = [line for line in output.splitlines() if "Cannot create a database" in line]
    assert "limited_db_verify_" in line
    assert "permission denied" in line
    assert "--database-url" in line
    assert "Traceback" not in output
    assert not re.search(r"(ruff|alembic|pytest)\s+(passed|failed)", output), output


def test_verify_against_a_server_that_does_not_answer_says_how_to_start_it(
    render: Render,
) -> None:
    project = render(Combination("asyncmy", "annotated", "uow"))
    # Nothing listens on a port just handed out and released.
    url = f"{url_scheme_of('asyncmy')}://app:hunter2@127.0.0.1:{free_port()}/nowhere"
    configure_database(project, url)

    completed = sqla_template("verify", str(project.path))
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    (last,) = [line for line in output.splitlines() if "Cannot reach" in line]
    assert "127.0.0.1" in last
    assert "docker compose up -d db" in last
    assert "--database-url" in last
    assert "hunter2" not in output
    assert "Traceback" not in output


def test_verify_against_a_given_url_that_does_not_answer_says_so(render: Render) -> None:
    project = render(Combination("asyncmy", "annotated", "uow"))
    url = f"{url_scheme_of('asyncmy')}://app:hunter2@127.0.0.1:{free_port()}/empty"

    completed = sqla_template("verify", str(project.path), "--database-url", url)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    (last,) = [line for line in output.splitlines() if "Cannot reach" in line]
    assert "127.0.0.1" in last
    assert last.endswith("Start that server, or pass another --database-url."), last
    assert "hunter2" not in output
    assert "Traceback" not in output


# ------------------------------------------------------------------ a first model, autogenerated

# Every driver with both model styles; integer keys with the annotated style, UUID keys with
# the classic one; the session patterns in turn, so that each README variant is followed.
FIRST_MODEL_COMBINATIONS = [
    Combination(
        driver,
        style,
        pattern,
        extra_answers=(("primary_key", "uuid"),) if style == "classic" else (),
    )
    for (driver, style), pattern in zip(
        itertools.product(choices("database_driver"), choices("model_style")),
        itertools.cycle(choices("session_pattern")),
        strict=False,
    )
]
# The README's checks after migrating, each as the README prints it. The project's own tests run
# once per project, with the model in `models.py`: they build the schema from the revisions.
MIGRATION_CHECKS = (
    ("alembic", "upgrade", "head"),
    ("alembic", "check"),
    ("alembic", "downgrade", "base"),
)
CODE_CHECKS = (("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",))
PROJECT_TESTS = ("pytest", "-q", "-p", "no:cacheprovider")


def uv_run(project: Project, *command: str) -> str:
    """`uv run COMMAND` in the project, as its README prints it; what it printed."""
    completed = project.run(["uv", "run", *command])
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"uv run {' '.join(command)}:\n{output}"
    return output


def readme_first_model(project: Project) -> str:
    """The code of the generated README's section "A first model"."""
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    found = re.search(r"### A first model\n.*?```python\n(.*?)```", readme, flags=re.DOTALL)
    assert found is not None, "README.md has no first model"
    return found.group(1)


def comment_model(first_model: str) -> tuple[str, str]:
    """A `Comment` (a post's comment: a text body, the timestamps) written after the README's
    `Note`: its imports, and its class."""
    imports, _, note = first_model.partition("\n\n\nclass Note(Base):\n")
    key = re.search(r"^    id(?:: Mapped\[| = mapped_column\()(\w+)", note, flags=re.MULTILINE)
    assert key is not None, note
    if ": Mapped[" in note:
        columns = (
            f"    post_id: Mapped[{key.group(1)}] = mapped_column(\n"
            '        ForeignKey("posts.id", ondelete="CASCADE"), index=True\n'
            "    )\n"
            "    body: Mapped[str] = mapped_column(Text)\n"
        )
    else:
        columns = (
            "    post_id = mapped_column(\n"
            f'        {key.group(1)}, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False,'
            " index=True\n"
            "    )\n"
            "    body = mapped_column(Text, nullable=False)\n"
        )
    note_columns = re.sub(r"^    text\b.*\n", columns, note, count=1, flags=re.MULTILINE)
    assert note_columns != note, note
    comment = "class Comment(Base):\n" + note_columns.replace('"notes"', '"comments"')

    def with_foreign_key_and_text(line: re.Match[str]) -> str:
        candidates = {*line.group(1).split(", "), "ForeignKey", "Text"}
        names = sorted(name for name in candidates if re.search(rf"\b{name}\b", comment))
        return f"from sqlalchemy import {', '.join(names)}"

    imports = re.sub(
        r"^from sqlalchemy import (.+)$",
        with_foreign_key_and_text,
        imports,
        count=1,
        flags=re.MULTILINE,
    )
    return imports, comment


def autogenerate_and_check(project: Project, model: Path, *extra_checks: tuple[str, ...]) -> Path:
    """The README's steps after writing a model into `model` (formatted, as an editor would):
    autogenerate its revision, then every check; the revision written, which nobody edited."""
    uv_run(project, "ruff", "format", "--quiet", str(model))
    versions = project.path / "migrations" / "versions"
    before = set(versions.glob("*.py"))
    quiet_migration(project, "alembic", "upgrade", "head")
    uv_run(project, "alembic", "revision", "--autogenerate", "-m", "add comments")
    (revision,) = set(versions.glob("*.py")) - before
    text = revision.read_text(encoding="utf-8")
    assert 'op.create_table(\n        "comments"' in text, text
    assert 'op.drop_table("comments")' in text, text
    # Spelled as the database stores it: a revision never imports the application.
    assert f"{project.package}." not in text, text
    for migration in MIGRATION_CHECKS:
        quiet_migration(project, *migration)
    for command in (*extra_checks, *CODE_CHECKS):
        uv_run(project, *command)
    return revision


def quiet_migration(project: Project, *command: str) -> None:
    """`uv run alembic ...`, which warns of nothing: a user would wonder what to do about it."""
    output = uv_run(project, *command)
    assert not re.search(r"^WARN|Warning:", output, flags=re.MULTILINE), output


@pytest.mark.parametrize("combination", FIRST_MODEL_COMBINATIONS, ids=lambda c: c.slug)
def test_a_first_model_autogenerates_a_revision_that_runs_unedited(
    combination: Combination, render: Render, databases: Databases
) -> None:
    """The README's "A first model", followed for a `Comment` of posts: in a module of its
    own, then in `models.py`; autogenerate, migrate, check, and the project's own checks,
    with no hand edit of the revision."""
    project = databases.attach(render(combination), f"first_model_{combination.slug}")
    assert install(project).passed
    package = project.path / "src" / project.package
    imports, comment = comment_model(readme_first_model(project))

    module = package / "comments.py"
    module.write_text(f"{imports}\n\n\n{comment}", encoding="utf-8")
    revision = autogenerate_and_check(project, module)
    module.unlink()
    revision.unlink()

    models = package / "models.py"
    models.write_text(f"{models.read_text(encoding='utf-8')}\n\n{comment}", encoding="utf-8")
    autogenerate_and_check(project, models, PROJECT_TESTS)


def test_a_column_type_autogenerate_cannot_write_stops_it(render: Render) -> None:
    """A revision that could not run is refused when it would be written, not at `upgrade`."""
    project = render(Combination("aiosqlite", "annotated", "uow"))
    assert install(project).passed
    (project.path / "src" / project.package / "points.py").write_text(
        "from typing import Any\n\n"
        "from sqlalchemy.orm import Mapped, mapped_column\n"
        "from sqlalchemy.types import UserDefinedType\n\n"
        f"from {project.package}.db import Base\n\n\n"
        "class Point(UserDefinedType[Any]):\n"
        "    cache_ok = True\n\n"
        "    def get_col_spec(self, **kw: Any) -> str:\n"
        '        return "POINT"\n\n\n'
        "class Place(Base):\n"
        '    __tablename__ = "places"\n\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "    location: Mapped[Any] = mapped_column(Point())\n",
        encoding="utf-8",
    )
    versions = project.path / "migrations" / "versions"
    before = set(versions.iterdir())
    uv_run(project, "alembic", "upgrade", "head")
    completed = project.run(["uv", "run", "alembic", "revision", "--autogenerate", "-m", "places"])
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert (
        f"Autogenerate cannot write the column type Point (from {project.package}.points)" in output
    )
    assert "render_item in migrations/env.py" in output
    assert set(versions.iterdir()) == before


# ------------------------------------------------------------------ copier update, unattended

OLD_RELEASE, NEW_RELEASE = "v1.0.0", "v1.1.0"
NEW_README_LINE = "Support: ask in the team's channel."
PASSWORD = "s3cret-Pa55"
PASSWORD_PROMPT = "Development database password"


@pytest.fixture(scope="module")
def released_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git copy of the template with two releases: the template as it is, and the same
    with one more line in the generated README."""
    return two_releases(
        tmp_path_factory.mktemp("released-template"),
        Path("template/README.md.jinja"),
        f"\n{NEW_README_LINE}\n",
    )


def two_releases(root: Path, changed: Path, appended: str) -> Path:
    """A git copy of the template in `root`, tagged OLD_RELEASE, then with `appended` added to
    the file `changed`, tagged NEW_RELEASE."""
    env = user_env(root.with_name(f"{root.name}-home"))
    snapshot(root)
    git_commit_all(root, env, "Release 1.0.0")
    git("tag", OLD_RELEASE, cwd=root, env=env)
    path = root / changed
    path.write_text(path.read_text(encoding="utf-8") + appended, encoding="utf-8")
    git_commit_all(root, env, "Release 1.1.0")
    git("tag", NEW_RELEASE, cwd=root, env=env)
    return root


def copier_without_terminal(
    *arguments: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`copier ARGUMENTS...` with stdin that is not a terminal, as in CI or a script."""
    return subprocess.run(
        [copier_executable(), *arguments],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def committed_project(template: Path, tmp_path: Path, answers: dict[str, object]) -> Path:
    """A project copied from the template's older release with the plain `copier` command
    (no `--trust`), committed to git as its user does."""
    env = user_env(tmp_path / "home")
    project = tmp_path / "blog"
    copied = copier_without_terminal(
        "copy", "--defaults", "--vcs-ref", OLD_RELEASE,
        *data_options({"project_name": "Blog", **answers}),
        str(template), str(project),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert copied.returncode == 0, copied.stdout + copied.stderr
    git_commit_all(project, env, "Generate the project")
    return project


@pytest.mark.parametrize("how", [["--skip-answered"], ["--defaults"]], ids=lambda a: a[0][2:])
def test_copier_update_on_a_server_driver_needs_no_terminal(
    released_template: Path, tmp_path: Path, how: list[str]
) -> None:
    """The README's `copier update --skip-answered` (and `--defaults`) in a project whose
    password was given on copy: no question, the new release arrives, `.env` is kept."""
    project = committed_project(
        released_template, tmp_path, {"database_driver": "asyncpg", "database_password": PASSWORD}
    )
    env = user_env(tmp_path / "home")
    dotenv = (project / ".env").read_text(encoding="utf-8")
    assert PASSWORD in dotenv
    updated = copier_without_terminal("update", *how, cwd=project, env=env)
    printed = updated.stdout + updated.stderr
    assert updated.returncode == 0, printed
    assert "Interactive session required" not in printed
    assert PASSWORD_PROMPT not in printed
    assert NEW_README_LINE in (project / "README.md").read_text(encoding="utf-8")
    assert (project / ".env").read_text(encoding="utf-8") == dotenv
    assert "run `uv run alembic upgrade head`" in printed
    assert ".env was kept" not in printed, "the driver did not change: .env is right as it is"


def test_copier_update_that_changes_the_driver_says_env_is_the_old_one(
    released_template: Path, tmp_path: Path
) -> None:
    project = committed_project(released_template, tmp_path, {"database_driver": "asyncpg"})
    env = user_env(tmp_path / "home")
    updated = copier_without_terminal(
        "update", "--skip-answered", "--data", "database_driver=aiomysql", cwd=project, env=env
    )
    printed = " ".join((updated.stdout + updated.stderr).split())
    assert updated.returncode == 0, printed
    assert ".env was kept as it was, for asyncpg" in printed
    assert "postgresql+asyncpg://" in (project / ".env").read_text(encoding="utf-8")
    assert "mysql+aiomysql://" in (project / ".env.example").read_text(encoding="utf-8")


def test_copier_update_while_the_sqlite_app_runs(released_template: Path, tmp_path: Path) -> None:
    """A running app keeps SQLite's write-ahead log and its index (`*.db-wal`, `*.db-shm`)
    beside the database: git ignores them, so the tree stays clean and the update runs."""
    project = committed_project(released_template, tmp_path, {})
    env = user_env(tmp_path / "home")
    # What the project's engine does on every connection (connection.py): WAL mode.
    running_app = sqlite3.connect(project / "blog.db")
    try:
        running_app.execute("PRAGMA journal_mode=WAL")
        running_app.execute("CREATE TABLE visits (id INTEGER PRIMARY KEY)")
        running_app.execute("INSERT INTO visits DEFAULT VALUES")
        running_app.commit()
        assert (project / "blog.db-wal").exists()
        assert (project / "blog.db-shm").exists()
        assert git("status", "--porcelain", cwd=project, env=env) == ""
        updated = copier_without_terminal("update", "--skip-answered", cwd=project, env=env)
        assert updated.returncode == 0, updated.stdout + updated.stderr
        assert NEW_README_LINE in (project / "README.md").read_text(encoding="utf-8")
        assert running_app.execute("SELECT count(*) FROM visits").fetchone() == (1,)
    finally:
        running_app.close()


NEW_QUESTION = "newsletter:\n  type: bool\n  help: Send a weekly newsletter?\n  default: false\n"


@pytest.fixture(scope="module")
def template_with_a_new_question(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git copy of the template with two releases: the template as it is, and the same with
    one more question, as a minor release may add."""
    return two_releases(
        tmp_path_factory.mktemp("template-new-question"), Path("copier.yml"), f"\n{NEW_QUESTION}"
    )


def test_a_release_with_a_new_question_updates_with_no_terminal_as_the_readmes_say(
    template_with_a_new_question: Path, tmp_path: Path
) -> None:
    """`--skip-answered` asks a new question, so with no terminal it stops; `--defaults`, which
    both READMEs give for that case, answers it with its default and keeps every answer."""
    project = committed_project(
        template_with_a_new_question, tmp_path, {"database_driver": "asyncpg"}
    )
    env = user_env(tmp_path / "home")
    asked = copier_without_terminal("update", "--skip-answered", cwd=project, env=env)
    assert asked.returncode != 0
    assert "Interactive session required" in asked.stdout + asked.stderr
    git("reset", "-q", "--hard", cwd=project, env=env)
    git("clean", "-q", "-d", "--force", cwd=project, env=env)

    updated = copier_without_terminal("update", "--defaults", cwd=project, env=env)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    answers = (project / ".copier-answers.yml").read_text(encoding="utf-8")
    assert f"_commit: {NEW_RELEASE}" in answers
    assert "newsletter: false" in answers
    assert "database_driver: asyncpg" in answers
    for readme in (CHECKOUT / "README.md", project / "README.md"):
        text = " ".join(readme.read_text(encoding="utf-8").split())
        assert "no terminal" in text, readme
        assert "`uvx copier update --defaults`" in text, readme


# ------------------------------------------------------------------ the READMEs' commands

CHECKOUT = locate().files
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
DEFAULT = Combination("aiosqlite", "annotated", "uow")
FASTAPI = Combination("aiosqlite", "annotated", "fastapi")


def shell_blocks(markdown: str) -> dict[str, list[str]]:
    """The `sh` code blocks of a README, under the title of the section that holds each."""
    blocks: dict[str, list[str]] = {}
    section = ""
    for part in re.split(r"^(#{2,3} .*)$", markdown, flags=re.MULTILINE):
        if re.match(r"#{2,3} ", part):
            section = part.lstrip("#").strip()
            continue
        for block in SHELL_BLOCK.findall(part):
            blocks.setdefault(section, []).append(block)
    return blocks


def bash(
    script: str, *, cwd: Path, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run `script` as a user pastes it into a shell, stopping at the first failure."""
    return run(["bash", "-e", "-c", script], cwd=cwd, env=env, timeout=timeout)


def readme_of(project: Path) -> dict[str, list[str]]:
    return shell_blocks((project / "README.md").read_text(encoding="utf-8"))


def project_env(home: Path, path: str) -> dict[str, str]:
    """A user's environment, with `path` as PATH and no database settings of the tests'."""
    env = user_env(home) | {"PATH": path}
    return {k: v for k, v in env.items() if not k.startswith(("DATABASE_", "TEST_DATABASE"))}


def test_every_shell_block_of_the_generated_readme_is_walked(render: Render) -> None:
    """The sections whose commands the tests below run are all the README has."""
    for combination in (DEFAULT, FASTAPI):
        sections = set(readme_of(render(combination).path))
        assert sections == {
            "Quick start", "Migrations", "Tests", "Updating from the template",
            *(["Running in production"] if combination is FASTAPI else []),
        }, sections  # fmt: skip


def test_the_template_readme_then_the_next_steps_then_the_generated_readme(
    tmp_path: Path,
) -> None:
    """With nothing on PATH but the system's programs and a Python 3: the template README's
    first command, then the next steps `sqla-template new` prints, then the generated
    README's quick start, migrations and tests, each block as printed (the README's /tmp
    is this test's)."""
    assert shutil.which("uv", path=SYSTEM_PATH) is None, "uv on PATH would prove nothing"
    checkout = shutil.copytree(
        CHECKOUT, tmp_path / "checkout", ignore=shutil.ignore_patterns(".venv", "*cache*")
    )
    first = shell_blocks((CHECKOUT / "README.md").read_text(encoding="utf-8"))
    command = first["Create a project and run its tests"][0].replace("/tmp/", f"{tmp_path}/")
    env = project_env(tmp_path / "home", SYSTEM_PATH)
    created = bash(command + '\nprintf "%s" "$PATH" > shell-path', cwd=checkout, env=env)
    env["PATH"] = (checkout / "shell-path").read_text(encoding="utf-8")
    printed = created.stdout + created.stderr
    steps = printed.split("Next steps:\n", 1)[1].split("\n\n", 1)[0]
    assert "uv sync" in steps, printed
    done = bash(steps, cwd=checkout, env=env)
    assert re.search(r"\d+ passed", done.stdout), done.stdout
    assert "Stored post" in done.stdout, "python -m <package> ran its unit of work"

    project = tmp_path / "myapp"
    blocks = readme_of(project)
    for section in ("Quick start", "Migrations", "Tests"):
        walked = bash(blocks[section][0], cwd=project, env=env)
        assert walked.returncode == 0
    assert (project / ".git/hooks/pre-commit").is_file(), "pre-commit install ran"
    assert list((project / "migrations/versions").glob("*_add_a_column.py"))


@pytest.mark.parametrize("pattern", choices("session_pattern"))
def test_the_next_steps_reach_a_project_named_as_people_read_it(
    pattern: str, tmp_path: Path
) -> None:
    """`sqla-template new "Acme Orders"`: the printed `cd` takes the user into that directory,
    and the steps end as the README's quick start does (before its pre-commit line)."""
    created = sqla_template("new", "Acme Orders", "--session-pattern", pattern, cwd=tmp_path)
    printed = created.stdout + created.stderr
    assert created.returncode == 0, printed
    steps = printed.split("Next steps:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    change_directory = steps[0].strip()
    assert change_directory.startswith("cd "), steps
    env = project_env(tmp_path / "home", SYSTEM_PATH)
    walked = bash(f"{change_directory}\npwd", cwd=tmp_path, env=env)
    assert walked.stdout.strip() == str(tmp_path / "Acme Orders")

    quick_start = readme_of(tmp_path / "Acme Orders")["Quick start"][0].splitlines()
    commands = [line.split("  #", 1)[0].strip() for line in quick_start]
    assert commands[-1].startswith("git init"), commands
    assert steps[-1].strip() == commands[-2], (steps, commands)


def test_the_generated_readme_without_uv(render: Render, tmp_path: Path) -> None:
    """The quick start's pip alternative, with the pip of a stock Python 3.11 venv."""
    project = render(DEFAULT).path
    env = project_env(tmp_path / "home", SYSTEM_PATH)
    env.pop("PIP_DISABLE_PIP_VERSION_CHECK", None)
    without_uv = readme_of(project)["Quick start"][1]
    assert without_uv.startswith("python3 -m venv .venv")
    walked = bash(without_uv, cwd=project, env=env)
    assert re.search(r"\d+ passed", walked.stdout), walked.stdout
    pip = run([".venv/bin/pip", "--version"], cwd=project, env=env).stdout
    assert int(pip.split()[1].split(".")[0]) >= 25, pip


def test_the_production_command_serves_the_api(render: Render, tmp_path: Path) -> None:
    """The generated README's production command: migrate, then uvicorn with workers (on a
    free port instead of 8000, which another program of this machine may hold)."""
    project = render(FASTAPI).path
    uv_dir = str(Path(uv_executable()).parent)
    env = project_env(tmp_path / "home", f"{uv_dir}:{SYSTEM_PATH}")
    migrate, serve = readme_of(project)["Running in production"][0].splitlines()
    assert "--workers" in serve
    assert "--reload" not in serve
    bash(migrate, cwd=project, env=env)
    port = free_port()
    server = subprocess.Popen(
        ["bash", "-c", "exec " + serve.replace("--port 8000", f"--port {port}")],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.communicate()[0]
                assert time.monotonic() < deadline, "the API did not answer in 120 s"
                time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0]
    assert server.returncode == 0, output
    assert output.count("Started server process") >= 2, "one process per worker"


def test_the_updating_section_step_by_step(released_template: Path, tmp_path: Path) -> None:
    """The generated README's update steps, and its merge of two heads, as printed."""
    project = committed_project(released_template, tmp_path, {})
    uv_dir = str(Path(uv_executable()).parent)
    env = project_env(tmp_path / "home", f"{uv_dir}:{os.environ['PATH']}")
    update, merge = readme_of(project)["Updating from the template"]
    updated = bash(update, cwd=project, env=env)
    assert NEW_README_LINE in (project / "README.md").read_text(encoding="utf-8")
    assert re.search(r"\d+ passed", updated.stdout), updated.stdout
    # Two revisions of the user's, on the same parent: two heads, which the merge joins.
    alembic = project / ".venv/bin/alembic"
    parent = run([str(alembic), "heads"], cwd=project, env=env).stdout.split()[0]
    for message in ("add a bio", "add an avatar"):
        run(
            [str(alembic), "revision", "-m", message, "--head", parent, "--splice"],
            cwd=project, env=env,
        )  # fmt: skip
    assert len(run([str(alembic), "heads"], cwd=project, env=env).stdout.splitlines()) == 2
    bash(merge, cwd=project, env=env)
    heads = run([str(alembic), "heads"], cwd=project, env=env).stdout.splitlines()
    assert len(heads) == 1, heads
    current = run([str(alembic), "current"], cwd=project, env=env).stdout
    assert heads[0].split()[0] in current


# ------------------------------------------------------------------ the CLI

cli = CliRunner()


def one_line(output: str) -> str:
    """The single line a refusal prints (a terminal may wrap it: joined again)."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_the_cli_says_its_version() -> None:
    result = cli.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"sqla-template {metadata.version(DISTRIBUTION)}"


def test_new_help_shows_every_default_of_copier_yml() -> None:
    result = cli.invoke(app, ["new", "--help"], env={"COLUMNS": "300"}, terminal_width=300)
    assert result.exit_code == 0, result.output
    help_text = " ".join(result.output.replace("│", " ").split())
    for q in asked():
        flag = q.name.replace("_", "-")
        if q.type == "bool":
            shown = f"--{flag}" if q.default else f"--no-{flag}"
        elif "{{" in str(q.default):
            continue  # computed from other answers, checked below
        else:
            shown = str(q.default) or "empty"
        assert f"[default: {shown}]" in help_text, q.name
    assert "[default: the destination directory's name]" in help_text
    assert "[default: derived from project_name]" in help_text


def test_new_into_a_directory_that_is_not_empty_is_one_line(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    destination.mkdir()
    (destination / "notes.txt").write_text("mine\n", encoding="utf-8")
    result = cli.invoke(app, ["new", str(destination)])
    assert result.exit_code == 2
    line = one_line(result.output)
    assert "is not empty" in line
    assert "--overwrite" not in result.output
    assert "Traceback" not in result.output
    assert [path.name for path in destination.iterdir()] == ["notes.txt"]


def test_a_destination_that_cannot_name_a_package_hints_at_package_name(tmp_path: Path) -> None:
    destination = tmp_path / "class"
    result = cli.invoke(app, ["new", str(destination)], terminal_width=300)
    assert result.exit_code == 2
    line = one_line(result.output)
    assert '"class" is a Python keyword' in line
    assert "--package-name" in line
    assert not destination.exists() or not any(destination.iterdir())

    result = cli.invoke(app, ["new", str(destination), "--package-name", "class_app"])
    assert result.exit_code == 0, result.output
    assert Project(destination).package == "class_app"


def test_verify_refuses_a_database_url_of_another_driver(render: Render) -> None:
    project = render(Combination("asyncpg", "annotated", "uow"))
    url = f"{url_scheme_of('asyncmy')}://app:hunter2@127.0.0.1:3306/orders"
    result = cli.invoke(
        app, ["verify", str(project.path), "--database-url", url], terminal_width=300
    )
    assert result.exit_code == 2, result.output
    shown = squeeze(result.output.replace("│", ""))
    assert squeeze("Pass a postgresql+asyncpg://... URL, for this project's asyncpg") in shown
    assert squeeze("(not mysql+asyncmy://)") in shown
    assert "hunter2" not in result.output
    assert not (project.path / ".venv").exists(), "refused before anything ran"


def test_verify_on_a_missing_path_says_it_does_not_exist(tmp_path: Path) -> None:
    result = cli.invoke(app, ["verify", str(tmp_path / "nowhere")], terminal_width=300)
    assert result.exit_code == 2
    # Unwrapped from its box, which may break the path anywhere.
    assert "nowhere'doesnotexist" in squeeze(result.output.replace("│", ""))
    assert "Traceback" not in result.output
