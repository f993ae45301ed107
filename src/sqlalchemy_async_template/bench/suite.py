"""How long a generated project's own test suite takes, without workers and with `-n 2`.

One PostgreSQL combination (asyncpg, FastAPI: the largest suite), installed once; the two
runs alternate, after an untimed warm-up of each (which also builds the template database
that the parallel runs clone).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from ..databases import Databases
from ..matrix import Combination
from .errors import BenchError
from .projects import installed_project

WORKERS = 2
RUNS = {"serial": (), "parallel": ("-n", str(WORKERS))}


def bench_suite(workdir: Path, databases: Databases, rounds: int) -> dict[str, Any]:
    combination = Combination("asyncpg", "annotated", "fastapi")
    project = installed_project(combination, workdir, databases)
    seconds: dict[str, list[float]] = {name: [] for name in RUNS}
    for round_number in range(rounds + 1):
        for name, options in RUNS.items():
            started = time.perf_counter()
            completed = project.run(["pytest", "-q", "-p", "no:cacheprovider", *options])
            elapsed = time.perf_counter() - started
            if completed.returncode != 0:
                raise BenchError(f"pytest {' '.join(options)} failed:\n{completed.stdout}")
            if round_number > 0:
                seconds[name].append(elapsed)
    serial, parallel = (statistics.median(seconds[name]) for name in RUNS)
    return {
        "combination": combination.slug,
        "serial_seconds": round(serial, 2),
        "parallel_seconds": round(parallel, 2),
        "workers": WORKERS,
    }
