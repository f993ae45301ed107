"""The real interactive prompts: `copier copy` in a pseudo-terminal, answered like a person
would, with the keyboard (no `--defaults`, no `--trust`)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from helpers import squeeze, strip_ansi, user_env

from sqlalchemy_async_template.questions import choices, question
from sqlalchemy_async_template.template import locate
from sqlalchemy_async_template.tools import copier_executable

TIMEOUT = 30  # seconds, for every single expectation
CURSOR_POSITION_REQUEST = "\x1b[6n"
DOWN, ENTER = "\x1b[B", "\r"
CLEAR_LINE = "\x15"  # Ctrl-U: delete everything left of the cursor
SECRET = "Sup3r-S3cret~"


def help_of(name: str) -> str:
    return question(name).help


def label_of(name: str, value: str) -> str:
    """The text a select list shows for `value` (copier.yml maps labels to values)."""
    (label,) = [label for label, choice in question(name).choices.items() if choice == value]
    return label


class Terminal:
    """`copier copy` in a pseudo-terminal of 40 x 120 characters, answering the terminal's
    cursor position requests as a real one does."""

    def __init__(self, tmp_path: Path) -> None:
        self.destination = tmp_path / "project"
        env = user_env(tmp_path / "home")
        env["TERM"] = "xterm"
        self.transcript = io.StringIO()
        self.child = pexpect.spawn(
            copier_executable(),
            ["copy", "--vcs-ref", "HEAD", locate().location, str(self.destination)],
            cwd=str(tmp_path),
            env=env,
            dimensions=(40, 120),
            encoding="utf-8",
            codec_errors="replace",
            timeout=TIMEOUT,
        )
        self.child.logfile_read = self.transcript

    def expect(self, text: str) -> None:
        """Wait until the program prints `text`."""
        while True:
            try:
                found = self.child.expect_exact([text, CURSOR_POSITION_REQUEST])
            except (pexpect.TIMEOUT, pexpect.EOF) as error:
                raise AssertionError(
                    f"{text!r} never appeared; the terminal showed:\n{self.screen()[-3000:]}"
                ) from error
            if found == 0:
                return
            self.child.send("\x1b[1;1R")

    def ask(self, name: str) -> None:
        """Wait for a question, recognised by its help text from copier.yml."""
        self.expect(help_of(name)[:30])

    def type(self, keys: str) -> None:
        self.child.send(keys)

    def choose(self, name: str, value: str) -> None:
        """Pick `value` in a select list with the arrow keys, starting from the default."""
        values = choices(name)
        default = str(question(name).default)
        self.ask(name)
        self.expect(label_of(name, default))  # the list is on the screen
        moves = values.index(value) - values.index(default)
        assert moves >= 0
        self.type(DOWN * moves + ENTER)

    def finish(self) -> None:
        self.expect_end()
        self.child.close()
        assert self.child.exitstatus == 0, self.screen()[-3000:]

    def expect_end(self) -> None:
        while True:
            found = self.child.expect_exact([pexpect.EOF, CURSOR_POSITION_REQUEST])
            if found == 0:
                return
            self.child.send("\x1b[1;1R")

    def screen(self) -> str:
        """Everything the program showed, without colours and cursor movements."""
        return strip_ansi(self.transcript.getvalue())

    def showed(self, text: str) -> bool:
        """Whether `text` was shown, wherever the terminal wrapped its lines."""
        return squeeze(text) in squeeze(self.screen())


def recorded_answers(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (project / ".copier-answers.yml").read_text(encoding="utf-8")
    )
    return data


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    return Terminal(tmp_path)


def answer_the_project_questions(terminal: Terminal) -> None:
    terminal.ask("project_name")
    terminal.expect(terminal.destination.name)  # the default: the destination's name
    terminal.type(CLEAR_LINE + "Blog Service" + ENTER)
    terminal.ask("package_name")
    terminal.expect("blog_service")  # the default, computed from the project name
    terminal.type(ENTER)
    for name in ("description", "author_name", "author_email"):
        terminal.ask(name)
        terminal.type(ENTER)


def test_a_person_answers_every_question_for_a_server_database(terminal: Terminal) -> None:
    answer_the_project_questions(terminal)
    terminal.choose("database_driver", "psycopg")
    terminal.choose("model_style", "classic")
    terminal.choose("session_pattern", "scoped")
    terminal.ask("include_examples")
    terminal.type("y")
    terminal.choose("primary_key", "uuid")
    terminal.ask("database_password")
    terminal.type(SECRET + ENTER)
    terminal.ask("pgbouncer")
    terminal.type(ENTER)  # the default: no
    terminal.ask("read_replica")
    terminal.type("y")
    terminal.finish()

    # Every question was asked with its help text, and the answers read back as chosen.
    for name in (
        "project_name",
        "package_name",
        "description",
        "author_name",
        "author_email",
        "database_driver",
        "model_style",
        "session_pattern",
        "include_examples",
        "primary_key",
        "database_password",
        "pgbouncer",
        "read_replica",
    ):
        assert terminal.showed(help_of(name)), f"the help of {name} was not shown"
    for name, value in (
        ("database_driver", "psycopg"),
        ("model_style", "classic"),
        ("session_pattern", "scoped"),
    ):
        assert terminal.showed(label_of(name, value))
    assert SECRET not in terminal.screen(), "the password was shown on the screen"
    assert terminal.showed('Your project "Blog Service" is ready')

    project = terminal.destination
    answers = recorded_answers(project)
    assert {key: answers[key] for key in answers if not key.startswith("_")} == {
        "project_name": "Blog Service",
        "package_name": "blog_service",
        "description": question("description").default,
        "author_name": question("author_name").default,
        "author_email": question("author_email").default,
        "database_driver": "psycopg",
        "model_style": "classic",
        "session_pattern": "scoped",
        "include_examples": True,
        "primary_key": "uuid",
        "pgbouncer": False,
        "read_replica": True,
    }
    assert SECRET not in (project / ".copier-answers.yml").read_text(encoding="utf-8")

    package = project / "src" / "blog_service"
    models = (package / "models.py").read_text(encoding="utf-8")
    assert "class User(Base)" in models
    assert "Mapped[" not in models
    assert (package / "scoped.py").is_file()
    assert "class ReplicaRoutingSession(Session)" in (package / "replica.py").read_text(
        encoding="utf-8"
    )
    assert not (package / "unit_of_work.py").exists()
    assert "postgresql+psycopg://" in (project / ".env").read_text(encoding="utf-8")
    # Exactly what the person typed, no more (a pre-filled default must not stick to it).
    assert f"DATABASE_PASSWORD={SECRET}\n" in (project / ".env").read_text(encoding="utf-8")


def test_sqlite_needs_no_password_question(terminal: Terminal) -> None:
    answer_the_project_questions(terminal)
    for name in ("database_driver", "model_style", "session_pattern"):
        terminal.ask(name)
        terminal.type(ENTER)  # the defaults: SQLite, annotated, unit of work
    terminal.ask("include_examples")
    terminal.type("n")
    terminal.ask("primary_key")
    terminal.type(ENTER)  # the default: integer
    terminal.finish()

    for name in ("database_password", "pgbouncer", "read_replica"):
        assert not terminal.showed(help_of(name)[:30]), f"{name} was asked for SQLite"
    assert "🕵" not in terminal.screen()  # Copier's mark of a secret question
    answers = recorded_answers(terminal.destination)
    assert answers["database_driver"] == "aiosqlite"
    assert answers["include_examples"] is False
    assert "database_password" not in answers
    assert "pgbouncer" not in answers
    assert "read_replica" not in answers
    assert "DATABASE_PASSWORD" not in (terminal.destination / ".env").read_text(encoding="utf-8")
    assert not (terminal.destination / "src" / "blog_service" / "models.py").exists()
    assert (terminal.destination / "src" / "blog_service" / "unit_of_work.py").is_file()
