"""A user's first run: from `copier copy --defaults` to a green `pytest` of the default
project, as the commands the closing message prints, with uv's cache warm.

One untimed run first (it fills uv's cache with the project's dependencies, as a user's
earlier projects would have), then `rounds` timed runs; the median of each step is kept:
render (`copier copy --defaults`), install (`uv sync`), tests (`uv run pytest`).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ..project import Project
from ..template import isolated_copier_settings, snapshot
from .errors import BenchError
from .rendering import copy_with_command

STEPS = ("render", "install", "tests")


def first_run(template: Path, destination: Path) -> dict[str, float]:
    """The seconds of each step of one first run into `destination`."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    copy_with_command(template, destination)
    seconds["render"] = time.perf_counter() - started
    project = Project(destination)
    for step, command in (("install", ["uv", "sync"]), ("tests", ["uv", "run", "pytest"])):
        started = time.perf_counter()
        completed = project.run(command)
        seconds[step] = time.perf_counter() - started
        if completed.returncode != 0:
            raise BenchError(
                f"{' '.join(command)} failed in a project rendered with --defaults:\n"
                f"{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
            )
    return seconds


def bench_first_run(workdir: Path, rounds: int) -> dict[str, Any]:
    """Median seconds of each step over `rounds` timed first runs, after an untimed one."""
    template = snapshot(workdir / "template")
    timings: dict[str, list[float]] = {step: [] for step in STEPS}
    with isolated_copier_settings(workdir):
        for round_number in range(rounds + 1):
            destination = Path(tempfile.mkdtemp(dir=workdir)) / "first-project"
            try:
                seconds = first_run(template, destination)
            except subprocess.CalledProcessError as error:
                raise BenchError(f"copier copy --defaults failed:\n{error.stderr}") from error
            finally:
                shutil.rmtree(destination.parent, ignore_errors=True)
            if round_number > 0:
                for step in STEPS:
                    timings[step].append(seconds[step])
    medians = {step: statistics.median(values) for step, values in timings.items()}
    return {
        **{f"{step}_seconds": round(value, 2) for step, value in medians.items()},
        "total_seconds": round(sum(medians.values()), 2),
        "rounds": rounds,
    }
