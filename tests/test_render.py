"""Every combination renders to a clean project: fast checks, no install."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Render
from revisions import recorded

from sqlalchemy_async_template.matrix import (
    Combination,
    all_combinations,
    option_combinations,
    skeleton_of,
)
from sqlalchemy_async_template.questions import choices, dialect_of

RENDERED = [
    *all_combinations(),
    *option_combinations(),
    *(skeleton_of(c) for c in all_combinations()[:6:3]),
]
JINJA_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
# The longest answers copier.yml accepts: the lines of the generated Markdown that hold them
# are their longest.
LONGEST_NAMES = {
    "project_name": "Northern Lights Observatory Telemetry and Archive Platform X",
    "package_name": "northern_lights_telemetry_archiv",
    "description": "Telemetry, archives and observation schedules of the northern lights, v2",
}
MAX_MARKDOWN_LINE = 100
FENCED_CODE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# "The template" is where the project came from: only the section on updating talks of it.
TEMPLATE_WORD = re.compile(r"\btemplate(s|'s)?\b", re.IGNORECASE)
FASTAPI_ONLY = ("api/app.py", "api/deps.py", "tests/test_api.py")


def project_files(project: Path) -> list[Path]:
    return sorted(p for p in project.rglob("*") if p.is_file() and ".git" not in p.parts)


@pytest.fixture(scope="module", params=RENDERED, ids=lambda c: c.slug)
def rendered(request: pytest.FixtureRequest, render: Render) -> tuple[Combination, Path]:
    combination: Combination = request.param
    return combination, render(combination).path


def test_python_files_parse(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    sources = [p for p in project_files(project) if p.suffix == ".py"]
    assert len(sources) >= 8
    for source in sources:
        ast.parse(source.read_text(encoding="utf-8"), filename=str(source))


def test_no_template_leftovers(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    for path in project_files(project):
        assert not path.name.endswith(".jinja"), path
        text = path.read_text(encoding="utf-8")
        # alembic.ini's %% and the Mako revision template are the project's own syntax.
        if path.name != "script.py.mako":
            assert not JINJA_LEFTOVER.search(text), f"{path}: {JINJA_LEFTOVER.search(text)}"
        assert "\n\n\n\n" not in text, f"{path}: stray blank lines"
        assert text.endswith("\n") or not text, f"{path}: no final newline"


def test_ruff_is_clean(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        completed = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr


def test_model_style_is_respected(rendered: tuple[Combination, Path]) -> None:
    combination, project = rendered
    models = next(project.glob("src/*/models.py"), None)
    if not combination.include_examples:
        assert models is None
        return
    assert models is not None
    text = models.read_text(encoding="utf-8")
    uuid_keys = combination.answers().get("primary_key") == "uuid"
    if combination.model_style == "classic":
        assert "Mapped[" not in text
        key_type = "Uuid" if uuid_keys else "Integer"
        assert f"mapped_column({key_type}, primary_key=True" in text
    else:
        assert f"Mapped[{'uuidpk' if uuid_keys else 'intpk'}]" in text
        assert "WriteOnlyMapped[" in text
    # Only the key the user chose: no other key type is defined.
    assert ("uuid7" in text) == uuid_keys


def test_session_pattern_files_and_dependencies(rendered: tuple[Combination, Path]) -> None:
    combination, project = rendered
    package = next(project.glob("src/*/db.py")).parent
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    is_fastapi = combination.session_pattern == "fastapi"
    for relative in FASTAPI_ONLY:
        base = project if relative.startswith("tests/") else package
        assert (base / relative).exists() == is_fastapi, relative
    assert ('"fastapi' in pyproject) == is_fastapi
    assert ('"httpx' in pyproject) == is_fastapi
    assert (package / "unit_of_work.py").exists() == (combination.session_pattern == "uow")
    assert (package / "scoped.py").exists() == (combination.session_pattern == "scoped")


def test_driver_is_wired_everywhere(rendered: tuple[Combination, Path]) -> None:
    combination, project = rendered
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"{combination.database_driver}' in pyproject or (
        combination.database_driver == "psycopg" and '"psycopg[binary]' in pyproject
    )
    compose = project / "docker-compose.yml"
    assert compose.exists() == (combination.dialect != "sqlite")
    other_drivers = {"aiosqlite", "asyncpg", "psycopg", "asyncmy", "aiomysql"} - {
        combination.database_driver
    }
    for path in project_files(project):
        if path.suffix in {".py", ".toml", ".yml", ".example"}:
            text = path.read_text(encoding="utf-8")
            leaked = [driver for driver in other_drivers if f"+{driver}" in text]
            assert not leaked, f"{path} mentions {leaked}"


def unchosen_terms(combination: Combination) -> list[str]:
    """Names of answers the user did not choose: the other drivers and databases, the other
    session patterns, the options left off."""
    answers = combination.answers()
    drivers = [d for d in choices("database_driver") if d != combination.database_driver]
    dialects = {dialect_of(d) for d in drivers} - {combination.dialect}
    patterns = [p for p in choices("session_pattern") if p != combination.session_pattern]
    pattern_names = {"fastapi": ["FastAPI", "API"], "uow": ["unit_of_work"], "scoped": ["scoped"]}
    options = {"pgbouncer": ["PgBouncer"], "read_replica": ["replica"]}
    return [
        *drivers,
        *dialects,
        *(name for pattern in patterns for name in pattern_names.get(pattern, [pattern])),
        *(name for option, names in options.items() if not answers.get(option) for name in names),
    ]


def comments(source: str) -> Iterator[tuple[int, str]]:
    """The comments and docstrings of a Python source, with their line numbers."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                yield getattr(node, "lineno", 1), docstring


def test_no_comment_names_an_answer_not_chosen(rendered: tuple[Combination, Path]) -> None:
    combination, project = rendered
    terms = re.compile(
        "|".join(rf"\b{re.escape(term)}\b" for term in unchosen_terms(combination)), re.IGNORECASE
    )
    # A released revision is never rewritten (test_migrations.py), its comments included.
    released = set(recorded())
    found = [
        f"{source.relative_to(project)}:{line}: {found.group()!r} in {' '.join(text.split())}"
        for source in project_files(project)
        if source.suffix == ".py" and source.name not in released
        for line, text in comments(source.read_text(encoding="utf-8"))
        if (found := terms.search(text))
    ]
    assert found == []


def markdown_problems(project: Path) -> list[str]:
    """What makes the project's Markdown read badly: lines over 100 characters, two blank
    lines in a row (outside code, which follows its own language's rules), and "the template"
    outside the README's section on updating."""
    problems = []
    for path in (p for p in project_files(project) if p.suffix == ".md"):
        name = path.relative_to(project).as_posix()
        text = path.read_text(encoding="utf-8")
        if "\n\n\n" in FENCED_CODE.sub("```", text):
            problems.append(f"{name}: two blank lines in a row")
        for number, line in enumerate(text.splitlines(), start=1):
            # An indented code line (a URL, a command) cannot wrap.
            if len(line) > MAX_MARKDOWN_LINE and not line.startswith("    "):
                problems.append(f"{name}:{number}: {len(line)} characters: {line}")
        before_updating = text.split("\n## Updating", 1)[0]
        problems += [
            f"{name}: mentions the template outside the section on updating: {line}"
            for line in before_updating.splitlines()
            if TEMPLATE_WORD.search(line)
        ]
    return problems


def test_markdown_reads_cleanly(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    assert (project / "README.md").exists()
    assert markdown_problems(project) == []


@pytest.mark.parametrize(
    "combination", [*all_combinations(), *option_combinations()], ids=lambda c: c.slug
)
def test_markdown_reads_cleanly_with_the_longest_names(
    combination: Combination, render: Render
) -> None:
    project = render(combination, **LONGEST_NAMES).path
    assert LONGEST_NAMES["package_name"] in (project / "README.md").read_text(encoding="utf-8")
    assert markdown_problems(project) == []
