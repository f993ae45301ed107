"""Every combination, installed and checked against the real database it targets."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import (
    Combination,
    all_combinations,
    option_combinations,
    skeleton_of,
    url_scheme_of,
)
from sqlalchemy_async_template.render import render_combination
from sqlalchemy_async_template.runner import check_combination
from sqlalchemy_async_template.servers import free_port
from sqlalchemy_async_template.verify import STEP_NAMES, install, project_environment

UUID_KEYS: tuple[tuple[str, str | bool], ...] = (("primary_key", "uuid"),)

SKELETONS = [
    skeleton_of(Combination("aiosqlite", "annotated", pattern))
    for pattern in ("uow", "fastapi", "scoped")
] + [
    skeleton_of(Combination("asyncpg", "annotated", "uow")),
    skeleton_of(Combination("asyncmy", "classic", "fastapi", extra_answers=UUID_KEYS)),
]


@pytest.mark.parametrize(
    "combination",
    [*all_combinations(), *option_combinations(), *SKELETONS],
    ids=lambda c: c.slug,
)
def test_combination_verifies(
    combination: Combination, render_root: Path, databases: Databases
) -> None:
    verification = check_combination(combination, render_root, databases)
    assert verification.passed, verification.failure_report()
    assert [step.name for step in verification.steps] == list(STEP_NAMES)

    pytest_output = verification.steps[-1].output
    passed = re.search(r"(\d+) passed", pytest_output)
    assert passed is not None, pytest_output
    assert int(passed.group(1)) >= (20 if combination.include_examples else 6)
    assert not re.search(r"\d+ (skipped|xfailed|deselected)", pytest_output), pytest_output


@pytest.mark.parametrize("driver", ["asyncpg", "aiomysql"])
def test_unreachable_database_stops_the_tests_with_one_clear_message(
    driver: str, render_root: Path
) -> None:
    combination = Combination(driver, "annotated", "uow")
    project = render_combination(combination, render_root / f"unreachable-{driver}")
    assert install(project).passed
    # Nothing listens on a port just handed out and released.
    url = f"{url_scheme_of(driver)}://app:hunter2@127.0.0.1:{free_port()}/nowhere"

    started = time.monotonic()
    completed = subprocess.run(
        [str(project / ".venv/bin/pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=project_environment(url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = completed.stdout + completed.stderr
    assert completed.returncode == 3, output
    assert elapsed < 30
    assert "Cannot reach the test database" in output
    assert "docker compose up -d db" in output
    assert "127.0.0.1" in output
    assert "hunter2" not in output
    assert "Traceback" not in output
    assert " passed" not in output
