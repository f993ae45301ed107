"""Render and verify combinations: the loop behind `sqla-template matrix` and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .databases import Databases
from .matrix import Combination
from .render import render_combination
from .verify import StepResult, Verification, verify

StepCallback = Callable[[Combination, StepResult], None]


@dataclass(frozen=True)
class MatrixResult:
    verifications: dict[Combination, Verification]
    wall_seconds: float

    @property
    def passed(self) -> bool:
        return all(verification.passed for verification in self.verifications.values())


def check_combination(
    combination: Combination,
    workdir: Path,
    databases: Databases,
    on_step: StepCallback | None = None,
) -> Verification:
    """Render `combination` into `workdir/<slug>` and verify it against its own new database."""
    project = render_combination(combination, workdir / combination.slug)
    database_url = databases.url_for(combination, combination.slug)
    return verify(
        project,
        database_url=database_url,
        on_step=None if on_step is None else lambda step: on_step(combination, step),
    )


def run_matrix(
    combinations: Sequence[Combination],
    workdir: Path,
    *,
    jobs: int = 2,
    on_step: StepCallback | None = None,
) -> MatrixResult:
    started = time.perf_counter()
    with Databases() as databases, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            combination: pool.submit(check_combination, combination, workdir, databases, on_step)
            for combination in combinations
        }
        verifications = {combination: future.result() for combination, future in futures.items()}
    return MatrixResult(verifications, time.perf_counter() - started)
