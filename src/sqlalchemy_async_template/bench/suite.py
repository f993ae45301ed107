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
from ..project import Project
from ..verify import install
from .errors import BenchError

RUNS = {"serial": (), "parallel": ("-n", "2")}


def bench_suite(workdir: Path, databases: Databases, rounds: int) -> dict[str, Any]:
    answers = {
        "project_name": "Bench Service",
        "database_driver": "asyncpg",
        "session_pattern": "fastapi",
    }
    project = Project.render(workdir / "suite", answers)
    installation = install(project)
    if not installation.passed:
        raise BenchError(f"installing {project.path} failed:\n{installation.failure_report()}")
    project = databases.attach(project, "bench_suite")
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
        "combination": "asyncpg-annotated-fastapi",
        "serial_seconds": round(serial, 2),
        "parallel_seconds": round(parallel, 2),
        "workers": 2,
    }
