"""How long verifying every combination takes: the wall time, and each step summed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..matrix import Combination
from ..runner import run_matrix


def bench_matrix(combinations: list[Combination], workdir: Path, jobs: int) -> dict[str, Any]:
    """Verify `combinations` with `jobs` at a time; the wall time and the time per step."""
    outcome = run_matrix(combinations, workdir, jobs=jobs)
    return {
        "wall_seconds": round(outcome.wall_seconds, 1),
        "jobs": jobs,
        "combinations": len(outcome.verifications),
        "passed": len(outcome.verifications) - len(outcome.failed),
        "failed": sorted(combination.slug for combination in outcome.failed),
        "steps": {name: round(seconds, 1) for name, seconds in outcome.seconds_per_step().items()},
    }
