"""The `sqla-template` command line and the matrix it reads from copier.yml."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import run, squeeze, user_env
from typer.testing import CliRunner

from sqlalchemy_async_template import matrix
from sqlalchemy_async_template.cli import app
from sqlalchemy_async_template.matrix import MatrixError
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.questions import asked, question, url_scheme_of
from sqlalchemy_async_template.template import locate
from sqlalchemy_async_template.tools import copier_executable, uv_executable

runner = CliRunner()
CHECKOUT = locate().files


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
    assert url_scheme_of("psycopg") == "postgresql+psycopg"


def test_optional_questions_are_verified_once_per_driver_they_apply_to() -> None:
    extras = {c.database_driver: dict(c.extra_answers) for c in matrix.option_combinations()}
    assert extras == {
        "aiosqlite": {"primary_key": "uuid"},
        "asyncpg": {"pgbouncer": True, "read_replica": True, "primary_key": "uuid"},
        "psycopg": {"pgbouncer": True, "read_replica": True, "primary_key": "uuid"},
        "asyncmy": {"read_replica": True, "primary_key": "uuid"},
        "aiomysql": {"read_replica": True, "primary_key": "uuid"},
    }
    assert question("pgbouncer").asked_for("asyncpg")
    assert not question("pgbouncer").asked_for("aiomysql")


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


def test_new_has_an_option_for_every_question_of_copier_yml() -> None:
    result = runner.invoke(app, ["new", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for q in asked():
        flag = "--" + q.name.replace("_", "-")
        assert flag in result.output, f"{flag} is missing from `new --help`"
        assert q.help[:40] in " ".join(result.output.split()), q.name
    for value in question("database_driver").values:
        assert value in result.output


def test_new_renders_with_typed_options(tmp_path: Path) -> None:
    destination = tmp_path / "blog_service"
    result = runner.invoke(
        app,
        [
            "new",
            str(destination),
            "--database-driver",
            "asyncpg",
            "--model-style",
            "classic",
            "--session-pattern",
            "scoped",
            "--no-include-examples",
            "--read-replica",
            "--author-name",
            "Zoë Martín",
        ],
    )
    assert result.exit_code == 0, result.output
    answers = Project(destination).answers
    assert answers["database_driver"] == "asyncpg"
    assert answers["model_style"] == "classic"
    assert answers["session_pattern"] == "scoped"
    assert answers["include_examples"] is False
    assert answers["read_replica"] is True
    assert answers["author_name"] == "Zoë Martín"
    # Left out, an answer takes copier.yml's default: the project name is the directory's.
    assert answers["project_name"] == "blog_service"
    assert answers["pgbouncer"] is False
    assert (destination / "src/blog_service/scoped.py").exists()
    assert not (destination / "src/blog_service/models.py").exists()


def test_new_refuses_an_unknown_choice_and_writes_nothing(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    result = runner.invoke(app, ["new", str(destination), "--database-driver", "oracle"])
    assert result.exit_code == 2
    assert "aiosqlite" in result.output
    assert not destination.exists()


def test_new_reports_a_refused_answer_without_a_traceback(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    result = runner.invoke(app, ["new", str(destination), "--project-name", "Alembic"])
    assert result.exit_code == 2
    assert "would shadow" in result.output
    assert "Traceback" not in result.output
    assert not destination.exists() or not any(destination.iterdir())


def test_plain_copier_copy_works_without_trust(tmp_path: Path) -> None:
    # The plain command line, not pytest-copie: its fixtures always render with
    # `unsafe=True`, so only this proves the template needs no `--trust`.
    destination = tmp_path / "project"
    completed = subprocess.run(
        [copier_executable(), "copy", "--defaults", "--vcs-ref", "HEAD", str(CHECKOUT), "project"],
        cwd=tmp_path,
        input="",
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr
    assert "--trust" not in completed.stderr
    answers = Project(destination).answers
    assert answers["_src_path"] == str(CHECKOUT)
    assert answers["project_name"] == "project"
    assert (destination / "src/project/db.py").exists()


@pytest.fixture
def without_uv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH with no directory that holds a `uv` (git and the system's tools stay)."""
    directories = os.environ["PATH"].split(os.pathsep)
    kept = [d for d in directories if not (Path(d) / "uv").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(kept))


@pytest.mark.usefixtures("without_uv_on_path")
def test_matrix_command_verifies_and_reports_without_uv_on_path(tmp_path: Path) -> None:
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


@pytest.mark.parametrize("made", [False, True], ids=["missing", "not-a-project"])
def test_verify_command_refuses_a_directory_that_is_not_a_project(
    tmp_path: Path, made: bool
) -> None:
    directory = tmp_path / "elsewhere"
    if made:
        directory.mkdir()
    result = runner.invoke(app, ["verify", str(directory)])
    assert result.exit_code == 2
    message = " ".join(result.output.replace("│", " ").split())  # unwrapped from its box
    if made:
        assert "is not a project generated from the template" in message
    else:
        assert "elsewhere'doesnotexist" in squeeze(result.output.replace("│", ""))
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == ([directory] if made else [])


# --- installed as a tool, outside any checkout ----------------------------------------------


def install_tool(source: str, home: Path) -> Path:
    """`uv tool install SOURCE` into a tool directory of `home`; the `sqla-template` it made."""
    env = user_env(home) | {
        "UV_TOOL_DIR": str(home / "tools"),
        "UV_TOOL_BIN_DIR": str(home / "bin"),
    }
    run([uv_executable(), "tool", "install", "--quiet", source], cwd=home, env=env, timeout=600)
    return home / "bin" / "sqla-template"


def new_outside_the_checkout(
    tool: Path, home: Path, *, path: str
) -> subprocess.CompletedProcess[str]:
    """`sqla-template new project` in an empty directory, with PATH as given."""
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    env = user_env(home) | {"PATH": path}
    return run([str(tool), "new", "project"], cwd=elsewhere, env=env, check=False, timeout=300)


SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@pytest.mark.parametrize("kind", ["path", "git URL"])
def test_installed_tool_renders_every_default_and_keeps_projects_updatable(
    kind: str, tmp_path: Path
) -> None:
    source = str(CHECKOUT) if kind == "path" else f"git+file://{CHECKOUT}"
    tool = install_tool(source, tmp_path)
    completed = new_outside_the_checkout(tool, tmp_path, path=SYSTEM_PATH)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    project = Project(tmp_path / "elsewhere" / "project")
    assert project.answers["project_name"] == "project"
    assert project.answers["database_driver"] == question("database_driver").default
    assert (project.path / "src/project/db.py").is_file()
    # The project records a source that `copier update` can use again.
    assert project.answers["_src_path"] in {str(CHECKOUT), f"git+file://{CHECKOUT}"}


def test_installed_tool_without_git_says_so_in_one_line(tmp_path: Path) -> None:
    tool = install_tool(str(CHECKOUT), tmp_path)
    completed = new_outside_the_checkout(tool, tmp_path, path=str(tmp_path / "no-programs"))
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "git is not installed" in output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output


def test_the_wheel_carries_the_template(tmp_path: Path) -> None:
    """Installed from a wheel (no checkout, no git source), `new` renders the bundled copy."""
    run(
        [uv_executable(), "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(CHECKOUT)],
        cwd=tmp_path,
        env=user_env(tmp_path / "home"),
        timeout=600,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    tool = install_tool(str(wheel), tmp_path)
    completed = new_outside_the_checkout(tool, tmp_path, path=SYSTEM_PATH)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "bundled" in output
    assert (tmp_path / "elsewhere/project/src/project/db.py").is_file()
