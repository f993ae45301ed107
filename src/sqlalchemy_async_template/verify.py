"""Verify a generated project the way its users will use it: install it in its own virtual
environment, lint, type-check, migrate up, check and down, and run its own tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .project import Project


@dataclass(frozen=True)
class Step:
    name: str
    commands: tuple[tuple[str, ...], ...]


ALEMBIC_ROUND_TRIP = (
    "from alembic.config import main; "
    "main(['upgrade', 'head']); main(['check']); main(['downgrade', 'base'])"
)
STEPS = (
    Step("install", (("uv", "sync", "--quiet"),)),
    Step("ruff", (("ruff", "check", "."), ("ruff", "format", "--check", "."))),
    Step("mypy", (("mypy",),)),
    # `alembic upgrade head`, `alembic check` and `alembic downgrade base`, in one process:
    # importing SQLAlchemy, the driver and the project once instead of three times.
    Step("alembic", (("python", "-c", ALEMBIC_ROUND_TRIP),)),
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
    project: Project
    planned: int
    steps: list[StepResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every planned step ran, and passed."""
        return len(self.steps) == self.planned and all(step.passed for step in self.steps)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def step(self, name: str) -> StepResult:
        (found,) = (step for step in self.steps if step.name == name)
        return found

    def failure_report(self) -> str:
        """The output of every failed step, for a person to read."""
        return "\n\n".join(
            f"--- {step.name} failed after {step.seconds:.1f}s ---\n{step.output}"
            for step in self.steps
            if not step.passed
        )


def run_step(step: Step, project: Project, settings: Mapping[str, str] | None = None) -> StepResult:
    """Run the commands of `step` in `project` (with `settings` in their environment),
    stopping at the first that fails."""
    started = time.perf_counter()
    outputs: list[str] = []
    passed = True
    for command in step.commands:
        shown = f"$ {' '.join(command)}"
        try:
            completed = project.run(command, settings=settings)
        except subprocess.TimeoutExpired as error:
            outputs.append(f"{shown}\ntimed out after {error.timeout}s")
            passed = False
            break
        outputs.append(f"{shown}\n{completed.stdout}{completed.stderr}")
        if completed.returncode != 0:
            passed = False
            break
    return StepResult(step.name, passed, time.perf_counter() - started, "\n".join(outputs))


def verify(
    project: Project,
    *,
    steps: Sequence[Step] = STEPS,
    on_step: Callable[[StepResult], None] | None = None,
    mypy_cache: Path | None = None,
) -> Verification:
    """Run every step on `project`, against its database. Stops after a failed install
    (nothing else can run); otherwise runs every step, so one report shows every problem.

    `mypy_cache` shares mypy's cache between projects verified one after the other: the
    libraries they have in common are analysed once (mypy re-checks what differs, by hash).
    """
    settings = None if mypy_cache is None else {"MYPY_CACHE_DIR": str(mypy_cache)}
    verification = Verification(project, planned=len(steps))
    for step in steps:
        result = run_step(step, project, settings)
        verification.steps.append(result)
        if on_step is not None:
            on_step(result)
        if step is INSTALL and not result.passed:
            break
    return verification


def install(project: Project) -> Verification:
    """Only the first step of `verify`: the project in its own virtual environment."""
    return verify(project, steps=[INSTALL])
