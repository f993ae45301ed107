"""Input safety: bad answers are refused before anything is written, with a message that says
what is wrong and what to type instead; good answers pass; the database password never
reaches `.copier-answers.yml` or git."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from helpers import copier as copier_cli
from helpers import data_options, git, project_of, run, user_env
from pytest_copie.plugin import Copie

from sqlalchemy_async_template.questions import choices
from sqlalchemy_async_template.template import locate
from sqlalchemy_async_template.tools import copier_executable

GOOD = {"project_name": "Blog Service"}
SECRET = "Sup3r-S3cret~"


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
    bad_package("", ("lower-case package name", "it cannot be empty"), "blog_service"),
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
            ("Type an email address", '"jane@" is not one'),
            "jane@example.com",
        ),
        id="author_email='jane@'",
    ),
    pytest.param(
        BadAnswer(
            {"author_email": "not-an-email"},
            "author_email",
            ("Type an email address", '"not-an-email" is not one'),
            "jane@example.com",
        ),
        id="author_email='not-an-email'",
    ),
    pytest.param(
        BadAnswer(
            {"project_name": ""},
            "project_name",
            ("the project name cannot be empty",),
            "Blog Service",
        ),
        id="project_name=''",
    ),
    pytest.param(
        BadAnswer(
            {"project_name": "   "},
            "project_name",
            ("the project name cannot be empty",),
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
        pytest.param(
            {"project_name": "Café Zürich Straße"}, "cafe_zurich_strasse", id="accented letters"
        ),
        pytest.param({"project_name": "İstanbul Łódź"}, "istanbul_lodz", id="dotted capital I"),
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
    assert ":Sup3r-S3cret~@localhost" in dotenv  # in DATABASE_URL, as typed
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


# Every message of every validator in copier.yml, with the fix it must open with: a prompt 80
# columns wide shows about 70 characters of it on one line.
FIX_WITHIN = 70
IMPERATIVES = ("Type ", "Try ", "Use ", "Keep ")
VALIDATOR_MESSAGES = [
    ({"project_name": ""}, '"Blog Service"'),
    ({"project_name": "x" * 61}, "Keep the project name to 60 characters or fewer"),
    ({"project_name": 'Say "hi"'}, "Type it without double quotes, backslashes or line breaks"),
    ({"package_name": ""}, '"blog_service"'),
    ({"package_name": "My-App"}, '"my_app"'),
    ({"package_name": "___"}, "Use lower-case letters, digits and underscores, starting"),
    ({"package_name": "class"}, '"class_app"'),
    ({"package_name": "asyncio"}, '"my_asyncio" or "asyncio_app"'),
    ({"package_name": "a" * 40}, '"' + "a" * 32 + '"'),
    ({"description": "x" * 73}, "Keep the description to one line of 72 characters or fewer"),
    ({"description": "back\\slash"}, "Type it without double quotes, backslashes or line"),
    ({"author_name": "x" * 101}, "Keep the name to 100 characters or fewer"),
    ({"author_name": "Line\nbreak"}, "Type it without double quotes, backslashes or line"),
    ({"author_email": "x" * 300 + "@example.com"}, '"jane@example.com"'),
]


def validator_message(error: BaseException) -> tuple[str, str]:
    """The question and the validator's own message in Copier's "Validation error for
    question 'NAME': MESSAGE"."""
    found = re.fullmatch(r"Validation error for question '(\w+)': (.*)", str(error), re.DOTALL)
    assert found is not None, error
    return found.group(1), found.group(2)


def refusal(destination: Path, data: dict[str, str], *, overwrite: bool = False) -> tuple[str, str]:
    """The question Copier refuses when it renders into `destination` with `data` (answers
    given as `--data` gives them), and the validator's message."""
    with pytest.raises(ValueError, match="Validation error") as refused:
        copier.run_copy(
            locate().location,
            destination,
            data=data,
            defaults=True,
            overwrite=overwrite,
            vcs_ref="HEAD",
            quiet=True,
        )
    return validator_message(refused.value)


def assert_fix_first(message: str, fix: str) -> None:
    assert message.startswith(IMPERATIVES), message
    assert fix in message[:FIX_WITHIN], f"{fix!r} is not in the first {FIX_WITHIN}: {message!r}"
    assert "\n" not in message


@pytest.mark.parametrize(("answers", "fix"), VALIDATOR_MESSAGES, ids=lambda v: repr(v)[:40])
def test_a_validator_message_opens_with_its_fix(
    answers: dict[str, str], fix: str, copie: Copie
) -> None:
    result = copie.copy(extra_answers={**GOOD, **answers})
    assert isinstance(result.exception, ValueError), result
    question_name, message = validator_message(result.exception)
    assert question_name == next(iter(answers))
    assert_fix_first(message, fix)


def test_the_primary_key_refusal_opens_with_its_fix(copie: Copie) -> None:
    first = project_of(copie.copy(extra_answers=GOOD))
    question_name, message = refusal(first.path, {**GOOD, "primary_key": "uuid"}, overwrite=True)
    assert question_name == "primary_key"
    assert_fix_first(message, 'Keep "integer" (leave out --data primary_key)')


def test_a_database_password_that_a_url_would_mangle_is_refused(tmp_path: Path) -> None:
    # Passed as data, as `--data` and `sqla-template new` pass it: Copier checks a secret
    # answer given as data, and one typed at the prompt.
    destination = tmp_path / "project"
    answers = {**GOOD, "database_driver": "asyncpg", "database_password": "p@ss/w0rd"}
    question_name, message = refusal(destination, answers)
    assert question_name == "database_password"
    assert_fix_first(message, "Use letters, digits and - . _ ~ only")
    assert not destination.exists()


def test_every_validator_of_copier_yml_has_its_messages_checked() -> None:
    validated = {name for name, q in raw_questions().items() if "validator" in q}
    checked = {next(iter(answers)) for answers, _ in VALIDATOR_MESSAGES} | {
        "primary_key",
        "database_password",
    }
    assert validated == checked


def raw_questions() -> dict[str, dict[str, Any]]:
    with locate().copier_yml.open(encoding="utf-8") as file:
        data: dict[str, Any] = yaml.safe_load(file)
    return {name: spec for name, spec in data.items() if not name.startswith("_")}
