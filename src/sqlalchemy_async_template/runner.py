"""Render and verify combinations: the loop behind `sqla-template matrix` and its benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

from .databases import Databases
from .matrix import Combination
from .project import Project
from .verify import STEP_NAMES, StepResult, Verification, verify

StepCallback = Callable[[Combination, StepResult], None]
PROJECT_NAME = "Example Service"


@dataclass(frozen=True)
class MatrixResult:
    verifications: dict[Combination, Verification]
    wall_seconds: float

    @property
    def failed(self) -> list[Combination]:
        return [c for c, verification in self.verifications.items() if not verification.passed]

    def seconds_per_step(self) -> dict[str, float]:
        """The time of each step, summed over every combination."""
        return {
            name: sum(
                step.seconds
                for verification in self.verifications.values()
                for step in verification.steps
                if step.name == name
            )
            for name in STEP_NAMES
        }


def check_combination(
    combination: Combination,
    workdir: Path,
    databases: Databases,
    on_step: StepCallback | None = None,
    mypy_cache: Path | None = None,
) -> Verification:
    """Render `combination` into `workdir/<slug>` and verify it against its own new database."""
    rendered = Project.render(
        workdir / combination.slug, {"project_name": PROJECT_NAME, **combination.answers()}
    )
    return verify(
        databases.attach(rendered, combination.slug),
        on_step=None if on_step is None else lambda step: on_step(combination, step),
        mypy_cache=mypy_cache,
    )


def run_matrix(
    combinations: Sequence[Combination],
    workdir: Path,
    *,
    jobs: int = 2,
    on_step: StepCallback | None = None,
) -> MatrixResult:
    started = time.perf_counter()
    # One mypy cache per job: a cache is reused by the combinations a job verifies one after
    # the other, never written by two mypy processes at once.
    caches: Queue[Path] = Queue()
    for job in range(jobs):
        caches.put(workdir / f".mypy_cache-{job}")

    def check(combination: Combination) -> Verification:
        cache = caches.get()
        try:
            return check_combination(combination, workdir, databases, on_step, cache)
        finally:
            caches.put(cache)

    with Databases() as databases, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {combination: pool.submit(check, combination) for combination in combinations}
        verifications = {combination: future.result() for combination, future in futures.items()}
    return MatrixResult(verifications, time.perf_counter() - started)
