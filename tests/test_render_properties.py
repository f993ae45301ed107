"""Every valid answer renders a clean project: answers drawn across their whole valid range
(long names with accents, apostrophes and typographic characters, every choice of every
question), rendered with Copier without `--trust`, then `ruff check`, `ruff format --check` and
`mypy --strict` on what comes out.

The validators of copier.yml decide what is valid: a drawn answer they refuse is discarded,
never counted as a failure. mypy runs from one virtual environment per session holding every
dependency any combination can have (read from rendered projects' own pyproject.toml).
"""

from __future__ import annotations

import os
import re
import shutil
import string
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest
from helpers import project_of, run
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st
from pytest_copie.plugin import Copie

from sqlalchemy_async_template.matrix import optional_questions
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.questions import choices
from sqlalchemy_async_template.tools import uv_executable

# Letters people put in names, typographic punctuation ruff calls ambiguous, digits and emoji.
# What a development password may hold: what goes into a URL as it is.
PASSWORD_CHARACTERS = st.sampled_from(list(string.ascii_letters + string.digits + "-._~"))
NAME_CHARACTERS = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list("  '-.,&!?()éèêëàâäçîïôöûüñßøåæœÉÀÇÑÅØŁłŚźżčšžğışİ")
    # Typographic quotes, dashes, ellipsis, multiplication sign, middle dot: as escapes, since
    # ruff calls them ambiguous here too.
    + list("\u2019\u2018\u201c\u201d\u2013\u2014\u2026\u00d7\u00b7")
    + list("ΑβγΔЖжЯя日本語한국🐍✓")
)
PACKAGE_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
EMAIL = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z0-9._+-]{1,30}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,30}", fullmatch=True),
    st.from_regex(r"[a-z]{2,10}", fullmatch=True),
)


@st.composite
def answers(draw: st.DrawFn) -> dict[str, Any]:
    driver = draw(st.sampled_from(choices("database_driver")))
    drawn: dict[str, Any] = {
        "project_name": draw(st.text(NAME_CHARACTERS, min_size=1, max_size=60)),
        "description": draw(st.text(NAME_CHARACTERS, max_size=72)),
        "author_name": draw(st.text(NAME_CHARACTERS, max_size=100)),
        "author_email": draw(EMAIL),
        "database_driver": driver,
        "model_style": draw(st.sampled_from(choices("model_style"))),
        "session_pattern": draw(st.sampled_from(choices("session_pattern"))),
        "primary_key": draw(st.sampled_from(choices("primary_key"))),
        "include_examples": draw(st.booleans()),
    }
    if draw(st.booleans()):  # typed, or the default computed from the project name
        drawn["package_name"] = draw(PACKAGE_NAME)
    for question in optional_questions():
        if question.type == "bool" and question.asked_for(driver):
            drawn[question.name] = draw(st.booleans())
    if driver != "aiosqlite":
        drawn["database_password"] = draw(st.text(PASSWORD_CHARACTERS, max_size=40))
    return drawn


# What generated code imports: typed once into the dependencies' mypy cache.
DEPENDENCIES = """
import alembic.autogenerate, alembic.command, alembic.config, alembic.migration
import fastapi, fastapi.responses, httpx, pydantic, pydantic.json_schema, pydantic_settings
import pytest, uuid_utils.compat
import sqlalchemy, sqlalchemy.dialects.mysql, sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite, sqlalchemy.ext.asyncio, sqlalchemy.orm, sqlalchemy.pool
"""


@dataclass(frozen=True)
class Checker:
    """A virtual environment with every dependency of every combination, for ruff and mypy,
    and a mypy cache of those dependencies alone."""

    environment: Path
    dependency_cache: Path

    def tool(self, name: str) -> str:
        return str(self.environment / "bin" / name)

    def mypy_cache_for(self, project: Path) -> Path:
        """A copy of the dependencies' cache for `project` alone: modules of two generated
        projects share names (`tests.conftest`), so they must never share a cache."""
        cache = project.with_name(f"{project.name}-mypy-cache")
        shutil.copytree(self.dependency_cache, cache)
        return cache


@pytest.fixture(scope="session")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Checker:
    root = tmp_path_factory.mktemp("every-dependency")
    requirements: set[str] = set()
    for driver in choices("database_driver"):
        project = Project.render(
            root / driver,
            {
                "project_name": "Every Dependency",
                "database_driver": driver,
                "session_pattern": "fastapi",
                "primary_key": "uuid",
            },
        ).path
        pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
        requirements.update(pyproject["project"]["dependencies"])
        requirements.update(pyproject["dependency-groups"]["dev"])
    environment = root / ".venv"
    uv = uv_executable()
    run([uv, "venv", "-q", "--python", "3.11", str(environment)], cwd=root, env=dict(os.environ))
    run(
        [uv, "pip", "install", "-q", "--python", str(environment / "bin/python"), *requirements],
        cwd=root,
        env=dict(os.environ),
        timeout=900,
    )
    checker = Checker(environment, root / "mypy-cache")
    warm_up = root / "dependencies"
    warm_up.mkdir()
    (warm_up / "dependencies.py").write_text(DEPENDENCIES, encoding="utf-8")
    run(
        [checker.tool("mypy"), "--cache-dir", str(checker.dependency_cache), "dependencies.py"],
        cwd=warm_up,
        env=dict(os.environ),
    )
    return checker


def run_mypy(checker: Checker, project: Path, cache: Path) -> None:
    run(
        [
            checker.tool("mypy"),
            "--cache-dir",
            str(cache),
            "--python-executable",
            checker.tool("python"),
        ],
        cwd=project,
        env={**os.environ, "MYPYPATH": str(project / "src")},
    )


@settings(
    max_examples=int(os.environ.get("RENDER_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(  # a realistic three-word name, FastAPI, the longest package name
    drawn={
        "project_name": "Blog Service Platform",
        "package_name": "blog_service_platform_for_teams_",
        "database_driver": "asyncpg",
        "session_pattern": "fastapi",
        "read_replica": True,
    }
)
@example(  # every limit at once, typographic characters, a description with its full stop
    drawn={
        "project_name": "Jane\u2019s Café \u2013 Ünïcode Blog \u201cPlatform\u201d for Teams 🐍",
        "description": "A service that keeps the posts, tags and authors of a blog — safely.",
        "author_name": "Zoë Ł. O\u2019Brien-Núñez",
        "database_driver": "aiomysql",
        "model_style": "classic",
        "session_pattern": "scoped",
        "primary_key": "uuid",
    }
)
@example(  # the longest package name, in the FastAPI project's imports
    drawn={
        "project_name": "Jane\u2019s Café \u2013 Ünïcode Blog \u201cPlatform\u201d for Teams 🐍",
        "package_name": "blog_service_platform_for_teams_",
        "database_driver": "psycopg",
        "session_pattern": "fastapi",
        "pgbouncer": True,
        "read_replica": True,
    }
)
@example(drawn={"project_name": "x", "description": "", "session_pattern": "uow"})
@given(drawn=answers())
def test_every_valid_answer_renders_a_clean_project(
    drawn: dict[str, Any], checker: Checker, copie_session: Copie
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Copier's own warnings are failures too
        warnings.filterwarnings("ignore", category=copier.errors.DirtyLocalWarning)
        result = copie_session.copy(extra_answers=drawn)
    if isinstance(result.exception, ValueError) and "Validation error" in str(result.exception):
        reject()  # the validators decide what is valid
    destination = project_of(result).path
    run([checker.tool("ruff"), "check", "--no-cache", "."], cwd=destination, env=dict(os.environ))
    run(
        [checker.tool("ruff"), "format", "--no-cache", "--check", "."],
        cwd=destination,
        env=dict(os.environ),
    )
    run_mypy(checker, destination, checker.mypy_cache_for(destination))
    readme = (destination / "README.md").read_text(encoding="utf-8")
    assert not re.search(r"\.\.(\s|$)", readme.split("\n## ")[0]), "a doubled full stop"
