"""Verify a generated project the way its users will use it: install it in its own virtual
environment, lint, type-check, migrate up, check and down, and run its own tests.

Migrating down and the project's tests delete what they find, so `verify` never runs them on
data it did not create: by default it works on a throw-away database (a temporary SQLite file,
or a new database next to the configured one on its server, dropped afterwards), and a database
given explicitly must hold no rows.
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from .project import INSIDE, Project
from .questions import url_scheme_of

DATABASE_SCRIPT = INSIDE / "verify_database.py"
UNREACHABLE = 3  # DATABASE_SCRIPT's status for a database that does not answer
# What to do when the server of the project's configured database does not answer.
START_THE_SERVER = "Start it with `docker compose up -d db` in the project, or pass --database-url."


class VerifyError(Exception):
    """The database to verify against cannot be used; the message says what to do."""


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
    only_empty: bool = False,
) -> Verification:
    """Run every step on `project`. Stops after a failed install (nothing else can run);
    otherwise runs every step, so one report shows every problem.

    The steps after the install use `project.database_url`, which must be a database the
    caller made for the purpose, or, with `only_empty`, one that holds no rows (checked, see
    `require_empty`); a project without one is verified against a throw-away database
    (`throwaway_database`), never against its own.

    `mypy_cache` shares mypy's cache between projects verified one after the other: the
    libraries they have in common are analysed once (mypy re-checks what differs, by hash).
    """
    settings = None if mypy_cache is None else {"MYPY_CACHE_DIR": str(mypy_cache)}
    verification = Verification(project, planned=len(steps))

    def run(step: Step, target: Project) -> bool:
        result = run_step(step, target, settings)
        verification.steps.append(result)
        if on_step is not None:
            on_step(result)
        return result.passed

    remaining = list(steps)
    installs = bool(remaining) and remaining[0] is INSTALL
    if installs and not run(remaining.pop(0), project):
        return verification
    if not remaining:
        return verification
    if only_empty and project.database_url:
        require_empty(project)
    database = nullcontext(project) if project.database_url else throwaway_database(project)
    with database as target:
        for step in remaining:
            run(step, target)
    return verification


def install(project: Project) -> Verification:
    """Only the first step of `verify`: the project in its own virtual environment."""
    return verify(project, steps=[INSTALL])


@contextmanager
def throwaway_database(project: Project) -> Iterator[Project]:
    """`project` with a database of its own for the duration: a temporary SQLite file, or a
    new database `<configured>_verify_<token>` next to the one the project is configured
    for (same server, same credentials), dropped afterwards, also when the body fails or is
    interrupted. Needs the project installed: its own Python and driver do the work."""
    if project.dialect == "sqlite":
        with tempfile.TemporaryDirectory(prefix="sqla-verify-") as directory:
            url = f"{url_scheme_of(project.driver)}:///{Path(directory) / 'verify.db'}"
            yield project.with_database(url)
        return
    configured = _database_script(project, "configured", project.package)
    suffix = f"_verify_{secrets.token_hex(3)}"
    url = _database_script(project, "create", configured, suffix)
    try:
        yield project.with_database(url)
    finally:
        database = url.rsplit("/", 1)[-1].split("?", 1)[0]
        _database_script(project, "drop", configured, database)


def require_empty(project: Project) -> None:
    """Refuse `project.database_url` unless its database holds no rows: migrating down and
    the project's tests would delete them."""
    assert project.database_url is not None
    start = "Start that server, or pass another --database-url."
    count = int(_database_script(project, "rows", project.database_url, unreachable=start))
    if count:
        raise VerifyError(
            f"Refusing to verify against a database that holds {count} rows "
            f"({_shown(project.database_url)}): migrating down and the tests would delete "
            "them. Pass an empty database to --database-url, or leave it out to verify "
            "against a throw-away one."
        )


def _database_script(project: Project, *arguments: str, unreachable: str = START_THE_SERVER) -> str:
    """Run DATABASE_SCRIPT with `arguments`; `unreachable`: what to do when its server does
    not answer."""
    completed = project.with_database(None).run_script(DATABASE_SCRIPT, *arguments, timeout=60)
    if completed.returncode == 0:
        return completed.stdout.strip()
    lines = completed.stderr.strip().splitlines() or [f"exit status {completed.returncode}"]
    message = lines[-1]
    if completed.returncode == UNREACHABLE:
        raise VerifyError(f"{message} {unreachable}")
    if arguments[0] == "create":
        raise VerifyError(
            f"{message} verify needs a throw-away database: grant the right to create one, "
            "or pass an empty database to --database-url."
        )
    raise VerifyError(message)


def _shown(url: str) -> str:
    """`url` without its password."""
    scheme, separator, rest = url.partition("://")
    credentials, at, address = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{separator}{credentials.split(':', 1)[0]}:***@{address}"
