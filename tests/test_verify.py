"""Every combination, installed and checked against the real database it targets."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from helpers import Render

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import (
    Combination,
    all_combinations,
    option_combinations,
    skeleton_of,
)
from sqlalchemy_async_template.questions import url_scheme_of
from sqlalchemy_async_template.servers import free_port
from sqlalchemy_async_template.verify import STEP_NAMES, install, verify

UUID_KEYS: tuple[tuple[str, str | bool], ...] = (("primary_key", "uuid"),)

SKELETONS = [
    skeleton_of(Combination("aiosqlite", "annotated", pattern))
    for pattern in ("uow", "fastapi", "scoped")
] + [
    skeleton_of(Combination("asyncpg", "annotated", "uow")),
    skeleton_of(Combination("asyncmy", "classic", "fastapi", extra_answers=UUID_KEYS)),
]
# The generated suites' size: a combination that silently lost tests fails here.
MIN_TESTS_WITH_EXAMPLES = 70
MIN_TESTS_SKELETON = 30


@pytest.mark.parametrize(
    "combination",
    [*all_combinations(), *option_combinations(), *SKELETONS],
    ids=lambda c: c.slug,
)
def test_combination_verifies(
    combination: Combination, render: Render, databases: Databases, mypy_cache: Path
) -> None:
    project = databases.attach(render(combination), combination.slug)
    verification = verify(project, mypy_cache=mypy_cache)
    assert verification.passed, verification.failure_report()
    assert [step.name for step in verification.steps] == list(STEP_NAMES)

    pytest_output = verification.step("pytest").output
    passed = re.search(r"(\d+) passed", pytest_output)
    assert passed is not None, pytest_output
    minimum = MIN_TESTS_WITH_EXAMPLES if combination.include_examples else MIN_TESTS_SKELETON
    assert int(passed.group(1)) >= minimum
    assert not re.search(r"\d+ (skipped|xfailed|deselected)", pytest_output), pytest_output


@pytest.mark.parametrize("driver", ["asyncpg", "aiomysql"])
def test_unreachable_database_stops_the_tests_with_a_clear_message(
    driver: str, render: Render
) -> None:
    project = render(Combination(driver, "annotated", "uow"))
    assert install(project).passed
    # Nothing listens on a port just handed out and released.
    url = f"{url_scheme_of(driver)}://app:hunter2@127.0.0.1:{free_port()}/nowhere"

    started = time.monotonic()
    completed = project.with_database(url).run(
        ["pytest", "-q", "-p", "no:cacheprovider"], timeout=120
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

    # A worker of `pytest -n` cannot end the run: every test that needs the database says it.
    parallel = project.with_database(url).run(
        ["pytest", "-q", "-p", "no:cacheprovider", "-n", "2"], timeout=120
    )
    output = parallel.stdout + parallel.stderr
    assert parallel.returncode == 1, output
    assert "INTERNALERROR" not in output, output
    assert "Cannot reach the test database" in output
    assert "hunter2" not in output


@pytest.mark.parametrize("driver", ["aiosqlite", "asyncpg", "asyncmy"])
def test_generated_tests_pass_in_parallel(
    driver: str, render: Render, databases: Databases
) -> None:
    """`pytest -n 2` in a generated project: every worker on a database of its own, the same
    tests pass as in a run without workers; the second parallel run reuses what the first
    built (PostgreSQL's template database)."""
    project = databases.attach(render(Combination(driver, "annotated", "fastapi")), driver)
    assert install(project).passed

    def passed(*options: str) -> int:
        completed = project.run(["pytest", "-q", "-p", "no:cacheprovider", *options])
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, output
        found = re.search(r"(\d+) passed", output)
        assert found is not None, output
        return int(found.group(1))

    serial = passed()
    assert serial >= MIN_TESTS_WITH_EXAMPLES
    assert passed("-n", "2") == serial
    assert passed("-n", "2") == serial
