"""A project generated from the template: where it is, what it was answered, and how to
render it, install it and run its commands.

The CLI, the matrix, the benchmark and the template's tests all handle generated projects
through `Project`.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import IO, Any

import copier
import yaml

from . import tools
from .questions import dialect_of
from .template import PACKAGE_DIR, TemplateSource, locate

COMMAND_TIMEOUT_SECONDS = 900
# Modules that run inside a generated project's own Python (the benchmark's probe, and what
# scripts run there share); `run_script` puts this directory on their import path.
INSIDE = PACKAGE_DIR / "inside"
ANSWERS_FILE = ".copier-answers.yml"

# The one list of what a project's commands (and the `copier` and `sqla-template` commands the
# tests run as a user would) must not inherit from the process running us: its virtual
# environment, and its database settings (a project's come from its .env or `database_url`).
NOT_INHERITED = frozenset(
    {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONHOME", "TEST_DATABASE_URL"}
)
NOT_INHERITED_PREFIX = "DATABASE_"


def inherited_environment() -> dict[str, str]:
    """This process's environment without what NOT_INHERITED names."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in NOT_INHERITED and not name.startswith(NOT_INHERITED_PREFIX)
    }


@dataclass(frozen=True)
class Project:
    """A generated project at `path`; its commands use `database_url` when one is given, and
    the project's own configuration (`.env`, its SQLite file) when not."""

    path: Path
    database_url: str | None = None

    @classmethod
    def render(
        cls,
        destination: Path,
        answers: Mapping[str, Any],
        *,
        source: TemplateSource | None = None,
        quiet: bool = True,
    ) -> Project:
        """Render the template into `destination` with `answers`, every other question at its
        default, as `copier copy --defaults` does (never with `--trust`)."""
        source = source or locate()
        if source.revision is not None:
            tools.require_git()
        with warnings.catch_warnings():
            # A checkout's uncommitted changes are what a maintainer wants rendered.
            warnings.simplefilter("ignore", copier.errors.DirtyLocalWarning)
            copier.run_copy(
                source.location,
                destination,
                data=dict(answers),
                defaults=True,
                unsafe=False,
                vcs_ref=source.revision,
                quiet=quiet,
            )
        return cls(destination)

    @cached_property
    def answers(self) -> dict[str, Any]:
        """The answers recorded in the project's `.copier-answers.yml`."""
        text = (self.path / ANSWERS_FILE).read_text(encoding="utf-8")
        answers: dict[str, Any] = yaml.safe_load(text)
        return answers

    @property
    def package(self) -> str:
        return str(self.answers["package_name"])

    @property
    def driver(self) -> str:
        return str(self.answers["database_driver"])

    @property
    def dialect(self) -> str:
        return dialect_of(self.driver)

    def with_database(self, database_url: str | None) -> Project:
        return replace(self, database_url=database_url)

    def environment(self, settings: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of the project's commands: this process's, without its virtual
        environment or database settings, plus the project's database and `settings`."""
        environment = inherited_environment()
        if self.database_url is not None:
            environment["DATABASE_URL"] = self.database_url
            environment["TEST_DATABASE_URL"] = self.database_url
        return environment | dict(settings or {})

    def executable(self, name: str) -> str:
        """`uv` (the one this package ships), or a program of the project's `.venv`."""
        if name == "uv":
            return tools.uv_executable()
        # Absolute: the command runs in the project's directory, whatever `path` is relative to.
        return str(self.path.absolute() / ".venv" / "bin" / name)

    def run(
        self,
        command: Sequence[str],
        *,
        settings: Mapping[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT_SECONDS,
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the project's commands to its end, in the project's directory."""
        with self.start(command, settings=settings) as process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def start(
        self,
        command: Sequence[str],
        *,
        settings: Mapping[str, str] | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = subprocess.PIPE,
        stderr: int | IO[Any] | None = subprocess.PIPE,
    ) -> subprocess.Popen[str]:
        """Start one of the project's commands and return at once (a server, a scenario
        that runs in phases)."""
        return subprocess.Popen(
            [self.executable(command[0]), *command[1:]],
            cwd=self.path,
            env=self.environment(settings),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )

    def run_script(
        self,
        script: Path,
        *arguments: str,
        settings: Mapping[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT_SECONDS,
    ) -> subprocess.CompletedProcess[str]:
        """Run a Python script with the project's Python, the modules of INSIDE importable."""
        return self.run(
            ["python", str(script), *arguments],
            settings=_with_inside(settings),
            timeout=timeout,
        )

    def start_script(
        self, script: Path, *arguments: str, settings: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """`run_script`, returning at once with pipes to the script's standard streams."""
        return self.start(
            ["python", str(script), *arguments],
            settings=_with_inside(settings),
            stdin=subprocess.PIPE,
        )


def _with_inside(settings: Mapping[str, str] | None) -> dict[str, str]:
    return {"PYTHONPATH": str(INSIDE), **(settings or {})}
