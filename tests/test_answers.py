"""Input safety: bad answers are refused before anything is written, with a message that says
what is wrong and what to type instead; good answers pass; the database password never
reaches `.copier-answers.yml` or git."""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import copier as copier_cli
from helpers import data_options, git, project_of, run, user_env
from pytest_copie.plugin import Copie

from sqlalchemy_async_template.questions import choices
from sqlalchemy_async_template.template import locate
from sqlalchemy_async_template.tools import copier_executable

GOOD = {"project_name": "Blog Service"}
SECRET = "Sup3r-S3cret!"


@dataclass(frozen=True)
class BadAnswer:
    """Answers that must be refused: `question` is the one the message names, `phrases` say
    what is wrong, `instead` is the answer the message proposes (which must be accepted)."""

    answers: dict[str, str]
    question: str
    phrases: tuple[str, ...]
    instead: str


NOT_AN_IDENTIFIER = ("is not a valid package name", "lower-case letters, digits and underscores")
KEYWORD = ("is a Python keyword and cannot be imported",)
SHADOWS = ("would shadow the standard library or a dependency of the project",)


def bad_package(name: str, phrases: tuple[str, ...], instead: str) -> Any:
    quoted = (f'"{name}"',) if name else ()
    return pytest.param(
        BadAnswer({"package_name": name}, "package_name", quoted + phrases, instead),
        id=f"package_name={name!r}",
    )


BAD_ANSWERS = [
    bad_package("my-app", NOT_AN_IDENTIFIER, "my_app"),
    bad_package("1app", (*NOT_AN_IDENTIFIER, "starting with a letter"), "app_1app"),
    bad_package("My App", NOT_AN_IDENTIFIER, "my_app"),
    bad_package("SQLAlchemy", NOT_AN_IDENTIFIER, "sqlalchemy_app"),
    bad_package("class", KEYWORD, "class_app"),
    bad_package("import", KEYWORD, "import_app"),
    bad_package("sqlalchemy", SHADOWS, "my_sqlalchemy"),
    bad_package("alembic", SHADOWS, "alembic_app"),
    bad_package("asyncio", SHADOWS, "my_asyncio"),
    bad_package("typing", SHADOWS, "typing_app"),
    bad_package("", ("The package name cannot be empty", "lower-case name"), "blog_service"),
    # The package name computed from the project name is validated like a typed one.
    pytest.param(
        BadAnswer(
            {"project_name": "Alembic"}, "package_name", ('"alembic"', *SHADOWS), "my_alembic"
        ),
        id="project_name='Alembic' (default package alembic)",
    ),
    pytest.param(
        BadAnswer(
            {"author_email": "jane@"},
            "author_email",
            ('"jane@" is not an email address',),
            "jane@example.com",
        ),
        id="author_email='jane@'",
    ),
    pytest.param(
        BadAnswer(
            {"author_email": "not-an-email"},
            "author_email",
            ('"not-an-email" is not an email address',),
            "jane@example.com",
        ),
        id="author_email='not-an-email'",
    ),
    pytest.param(
        BadAnswer(
            {"project_name": ""},
            "project_name",
            ("The project name cannot be empty",),
            "Blog Service",
        ),
        id="project_name=''",
    ),
    pytest.param(
        BadAnswer(
            {"project_name": "   "},
            "project_name",
            ("The project name cannot be empty",),
            "Blog Service",
        ),
        id="project_name='   '",
    ),
]


def assert_explains(message: str, case: BadAnswer) -> None:
    assert f"question '{case.question}'" in message, message
    for phrase in case.phrases:
        assert phrase in message, f"{phrase!r} is not in {message!r}"
    # ...and what to type instead.
    assert f'"{case.instead}"' in message, message


def assert_nothing_written(destination: Path) -> None:
    written = sorted(str(path) for path in destination.rglob("*") if not path.is_dir())
    assert written == [], f"a refused answer left files behind: {written}"


@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_a_bad_answer_is_refused_by_the_api(case: BadAnswer, copie: Copie) -> None:
    result = copie.copy(extra_answers={**GOOD, **case.answers})
    assert isinstance(result.exception, ValueError), result
    assert "Validation error" in str(result.exception)
    assert_explains(str(result.exception), case)
    assert_nothing_written(copie.test_dir)


@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_a_bad_answer_is_refused_by_the_command_line(case: BadAnswer, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    destination = tmp_path / "project"
    destination.mkdir()  # created beforehand, as people do: it must stay empty
    result = run(
        [
            copier_executable(),
            "copy",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            *data_options({**GOOD, **case.answers}),
            locate().location,
            str(destination),
        ],
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode != 0
    assert_explains(result.stdout + result.stderr, case)
    assert_nothing_written(destination)


@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_the_answer_a_refusal_proposes_is_accepted(case: BadAnswer, copie: Copie) -> None:
    answers = {**GOOD, **case.answers, case.question: case.instead}
    project = project_of(copie.copy(extra_answers=answers))
    assert project.answers[case.question] == case.instead


@pytest.mark.parametrize(
    ("answers", "package"),
    [
        pytest.param({"project_name": "Blog Service"}, "blog_service", id="default from a name"),
        pytest.param(
            {"project_name": "Reports", "package_name": "blog_service"},
            "blog_service",
            id="typed package name",
        ),
        pytest.param(
            {"project_name": "2024 Report"}, "app_2024_report", id="name starting with a digit"
        ),
        pytest.param({"project_name": "  Ops -- Dashboard!  "}, "ops_dashboard", id="punctuation"),
    ],
)
def test_good_answers_pass(answers: dict[str, str], package: str, copie: Copie) -> None:
    project = project_of(copie.copy(extra_answers=answers))
    assert project.package == package
    assert package.isidentifier()
    assert not keyword.iskeyword(package)
    assert (project.path / "src" / package / "__init__.py").is_file()


def test_the_database_password_stays_out_of_the_answers_file_and_out_of_git(
    tmp_path: Path,
) -> None:
    env = user_env(tmp_path / "home")
    project = tmp_path / "project"
    # The plain command line, as a user types it.
    copier_cli(
        "copy",
        "--defaults",
        "--vcs-ref",
        "HEAD",
        *data_options({**GOOD, "database_driver": "asyncpg", "database_password": SECRET}),
        locate().location,
        str(project),
        cwd=tmp_path,
        env=env,
    )
    answers_text = (project / ".copier-answers.yml").read_text(encoding="utf-8")
    assert "database_password" not in answers_text
    assert SECRET not in answers_text
    assert yaml.safe_load(answers_text)["database_driver"] == "asyncpg"

    dotenv = (project / ".env").read_text(encoding="utf-8")
    assert f"DATABASE_PASSWORD={SECRET}\n" in dotenv
    assert ":Sup3r-S3cret%21@localhost" in dotenv  # URL-encoded in DATABASE_URL
    assert "Sup3r-S3cret" not in (project / ".env.example").read_text(encoding="utf-8")

    git("init", "-q", cwd=project, env=env)
    assert is_ignored(project, ".env", env)
    git("add", "-A", cwd=project, env=env)
    tracked = git("ls-files", cwd=project, env=env).splitlines()
    assert ".env" not in tracked
    assert ".env.example" in tracked
    leaking = [
        name
        for name in tracked
        if b"Sup3r-S3cret" in (project / name).read_bytes()  # either spelling
    ]
    assert leaking == [], f"files git would commit contain the password: {leaking}"


@pytest.mark.parametrize("driver", choices("database_driver"))
def test_dotenv_is_git_ignored_for_every_driver(driver: str, copie: Copie, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    project = project_of(copie.copy(extra_answers={**GOOD, "database_driver": driver})).path
    assert (project / ".env").is_file()
    git("init", "-q", cwd=project, env=env)
    assert is_ignored(project, ".env", env)
    # ...while .env.example, the documented template of it, is committed.
    assert not is_ignored(project, ".env.example", env)


def is_ignored(project: Path, name: str, env: dict[str, str]) -> bool:
    check = run(["git", "check-ignore", "-q", name], cwd=project, env=env, check=False)
    assert check.returncode in {0, 1}, check.stderr
    return check.returncode == 0
