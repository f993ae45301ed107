"""Verify a generated project the way its users will use it: install it in its own virtual
environment with uv, lint, type-check, migrate up, check and down, and run its own tests."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STEP_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Step:
    name: str
    commands: tuple[tuple[str, ...], ...]


# Executables run from the project's own virtual environment (.venv/bin).
STEPS = (
    Step("install", (("uv", "sync", "--quiet"),)),
    Step("ruff", (("ruff", "check", "."), ("ruff", "format", "--check", "."))),
    Step("mypy", (("mypy",),)),
    Step(
        "alembic",
        (
            ("alembic", "upgrade", "head"),
            ("alembic", "check"),
            ("alembic", "downgrade", "base"),
        ),
    ),
    Step("pytest", (("pytest", "-q", "-p", "no:cacheprovider"),)),
)
STEP_NAMES = tuple(step.name for step in STEPS)
INSTALL = STEPS[0]


@dataclass(frozen=True)
class StepResult:
    name: str
    passed: bool
    seconds: float
    output: str


@dataclass
class Verification:
    project: Path
    planned: int
    steps: list[StepResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every planned step ran, and passed."""
        return len(self.steps) == self.planned and all(step.passed for step in self.steps)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def failure_report(self) -> str:
        """The output of every failed step, for a person to read."""
        return "\n\n".join(
            f"--- {step.name} failed after {step.seconds:.1f}s ---\n{step.output}"
            for step in self.steps
            if not step.passed
        )


def project_environment(database_url: str | None) -> dict[str, str]:
    """The environment for a project's own commands: this process's, minus its virtual
    environment, plus the database to use."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "DATABASE_URL", "TEST_DATABASE_URL"}
    }
    if database_url is not None:
        environment["DATABASE_URL"] = database_url
        environment["TEST_DATABASE_URL"] = database_url
    return environment


def run_in_project(
    project: Path,
    command: Sequence[str],
    environment: dict[str, str],
    *,
    timeout: float = STEP_TIMEOUT_SECONDS,
) -> subprocess.CompletedProcess[str]:
    """Run `command` in `project`: `uv` itself, or an executable of the project's .venv."""
    executable = command[0] if command[0] == "uv" else str(project / ".venv/bin" / command[0])
    return subprocess.run(
        [executable, *command[1:]],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_step(step: Step, project: Path, environment: dict[str, str]) -> StepResult:
    started = time.perf_counter()
    outputs: list[str] = []
    passed = True
    for command in step.commands:
        try:
            completed = run_in_project(project, command, environment)
        except subprocess.TimeoutExpired as error:
            outputs.append(f"$ {' '.join(command)}\ntimed out after {error.timeout}s")
            passed = False
            break
        outputs.append(f"$ {' '.join(command)}\n{completed.stdout}{completed.stderr}")
        if completed.returncode != 0:
            passed = False
            break
    return StepResult(step.name, passed, time.perf_counter() - started, "\n".join(outputs))


def install(project: Path) -> Verification:
    """Install `project` into its own virtual environment (the first step of `verify`)."""
    return verify(project, steps=[INSTALL])


def verify(
    project: Path,
    *,
    database_url: str | None = None,
    steps: Sequence[Step] = STEPS,
    on_step: Callable[[StepResult], None] | None = None,
) -> Verification:
    """Run every step on `project`. Stops after a failed install (nothing else can run);
    otherwise runs every step, so one report shows every problem."""
    environment = project_environment(database_url)
    verification = Verification(project, planned=len(steps))
    for step in steps:
        result = run_step(step, project, environment)
        verification.steps.append(result)
        if on_step is not None:
            on_step(result)
        if step is INSTALL and not result.passed:
            break
    return verification
