"""The `sqla-template` command line and the matrix it reads from copier.yml."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sqlalchemy_async_template import matrix
from sqlalchemy_async_template.cli import app
from sqlalchemy_async_template.matrix import TEMPLATE_ROOT, MatrixError

runner = CliRunner()


def answers_of(project: Path) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(
        (project / ".copier-answers.yml").read_text(encoding="utf-8")
    )
    return loaded


def test_matrix_is_every_combination_of_the_copier_yml_choices() -> None:
    combinations = matrix.all_combinations()
    assert len(combinations) == 5 * 2 * 3
    assert len(set(combinations)) == len(combinations)
    assert {c.database_driver for c in combinations} == {
        "aiosqlite",
        "asyncpg",
        "psycopg",
        "asyncmy",
        "aiomysql",
    }
    assert {c.dialect for c in combinations} == {"sqlite", "postgresql", "mysql"}
    assert matrix.url_scheme_of("psycopg") == "postgresql+psycopg"


def test_optional_questions_are_verified_once_per_driver_they_apply_to() -> None:
    extras = {c.database_driver: dict(c.extra_answers) for c in matrix.option_combinations()}
    assert extras == {
        "aiosqlite": {"primary_key": "uuid"},
        "asyncpg": {"pgbouncer": True, "read_replica": True, "primary_key": "uuid"},
        "psycopg": {"pgbouncer": True, "read_replica": True, "primary_key": "uuid"},
        "asyncmy": {"read_replica": True, "primary_key": "uuid"},
        "aiomysql": {"read_replica": True, "primary_key": "uuid"},
    }
    assert matrix.applies_to("pgbouncer", "asyncpg")
    assert not matrix.applies_to("pgbouncer", "aiomysql")


def test_selection_keeps_combinations_matching_every_filter() -> None:
    selected = matrix.select(
        ["database_driver=asyncpg", "database_driver=asyncmy", "session_pattern=fastapi"]
    )
    selected = [c for c in selected if not c.extra_answers]
    assert sorted(c.slug for c in selected) == [
        "asyncmy-annotated-fastapi",
        "asyncmy-classic-fastapi",
        "asyncpg-annotated-fastapi",
        "asyncpg-classic-fastapi",
    ]


@pytest.mark.parametrize("bad", ["database_driver", "driver=asyncpg", "database_driver=oracle"])
def test_selection_refuses_what_copier_yml_does_not_allow(bad: str) -> None:
    with pytest.raises(MatrixError, match="database_driver"):
        matrix.select([bad])


def test_new_renders_with_typed_options(tmp_path: Path) -> None:
    destination = tmp_path / "blog_service"
    result = runner.invoke(
        app,
        [
            "new",
            str(destination),
            "--driver",
            "asyncpg",
            "--model-style",
            "classic",
            "--session-pattern",
            "scoped",
            "--no-examples",
        ],
    )
    assert result.exit_code == 0, result.output
    answers = answers_of(destination)
    assert answers["database_driver"] == "asyncpg"
    assert answers["model_style"] == "classic"
    assert answers["session_pattern"] == "scoped"
    assert answers["include_examples"] is False
    assert answers["project_name"] == "blog service"
    assert (destination / "src/blog_service/scoped.py").exists()
    assert not (destination / "src/blog_service/models.py").exists()


def test_new_refuses_an_unknown_choice_and_writes_nothing(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    result = runner.invoke(app, ["new", str(destination), "--driver", "oracle"])
    assert result.exit_code == 2
    assert "aiosqlite" in result.output
    assert not destination.exists()


def test_plain_copier_copy_works_without_trust(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    copier = shutil.which("copier")
    assert copier is not None
    completed = subprocess.run(
        [copier, "copy", "--defaults", "--vcs-ref", "HEAD", str(TEMPLATE_ROOT), str(destination)],
        input="",
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(Path(copier).parent), "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr
    assert "--trust" not in completed.stderr
    assert answers_of(destination)["_src_path"] == str(TEMPLATE_ROOT)
    assert answers_of(destination)["project_name"] == "project"
    assert (destination / "src/project/db.py").exists()


def test_matrix_command_verifies_and_reports(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "matrix",
            "--only",
            "database_driver=aiosqlite",
            "--only",
            "model_style=classic",
            "--only",
            "session_pattern=scoped",
            "--workdir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "aiosqlite-classic-scoped" in result.output
    assert "1 passed, 0 failed" in result.output
    assert (tmp_path / "aiosqlite-classic-scoped/.venv").is_dir()


def test_verify_command_fails_on_a_broken_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    assert runner.invoke(app, ["new", str(project)]).exit_code == 0
    module = project / "src/project/db.py"
    module.write_text(module.read_text(encoding="utf-8") + "\nimport os\n", encoding="utf-8")
    result = runner.invoke(app, ["verify", str(project)])
    assert result.exit_code == 1
    assert "ruff" in result.output
    assert "failed" in result.output
    assert "F401" in result.output


def test_new_reports_a_refused_answer_without_a_traceback(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    result = runner.invoke(app, ["new", str(destination), "--project-name", "Alembic"])
    assert result.exit_code == 2
    assert "would shadow" in result.output
    assert "Traceback" not in result.output
    assert not destination.exists() or not any(destination.iterdir())
