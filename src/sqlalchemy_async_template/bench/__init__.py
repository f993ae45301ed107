"""`sqla-template bench`: the generated data layer against the raw driver, rendering against
Copier's floor, a user's first run (render, install, tests), and (optionally) the whole
verification matrix, measured side by side; with `--http`, the generated service over HTTP.

The measurements live in their own modules (`data_layer`, `rendering`, `matrix_timing`); the
report they make, on screen, in JSON and in Markdown, lives in `report`. Targets are not
here: `docs/performance.md` states them next to the measured figures.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ..databases import Databases
from ..matrix import select
from .data_layer import DataLayerOptions, bench_driver
from .errors import BenchError
from .first_run import bench_first_run
from .http import HttpOptions, bench_http, wrk_executable
from .matrix_timing import bench_matrix
from .rendering import bench_render
from .suite import bench_suite

__all__ = [
    "BenchError",
    "BenchOptions",
    "HttpOptions",
    "run_bench",
    "run_http_bench",
    "wrk_executable",
]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    drivers: Sequence[str]
    data_layer: DataLayerOptions = field(default_factory=DataLayerOptions)
    matrix: bool = False
    suite: bool = False
    jobs: int = 2


def run_bench(
    options: BenchOptions, workdir: Path, progress: Progress = lambda _message: None
) -> dict[str, Any]:
    """Every measurement, as the JSON document `sqla-template bench --json` writes."""
    drivers: dict[str, Any] = {}
    with Databases() as databases:
        for driver in options.drivers:
            progress(f"{driver}: render, install, migrate, measure")
            drivers[driver] = bench_driver(
                driver, workdir / "projects", databases, options.data_layer
            )
        suite = None
        if options.suite:
            progress("suite: a generated project's tests, without workers and with -n 2")
            suite = bench_suite(workdir / "suite", databases, min(options.data_layer.rounds, 3))
    progress("render: this template against a one-file template")
    render = bench_render(workdir / "render", options.data_layer.rounds)
    progress("first run: copier copy --defaults, uv sync, uv run pytest, uv's cache warm")
    first = bench_first_run(workdir / "first-run", min(options.data_layer.rounds, 3))
    report: dict[str, Any] = {
        "machine": machine(),
        "parameters": {
            "rows": options.data_layer.rows,
            "posts": options.data_layer.posts,
            "rounds": options.data_layer.rounds,
            "page_sizes": list(options.data_layer.page_sizes),
        },
        "drivers": drivers,
        "render_ratio": round(render["command"].ratio, 3),
        "render": {name: times.as_json() for name, times in render.items()},
        "first_run": first,
    }
    if suite is not None:
        report["suite"] = suite
    if options.matrix:
        combinations = select()
        progress(f"matrix: verify {len(combinations)} combinations (the optional set included)")
        report["matrix"] = bench_matrix(combinations, workdir / "matrix", options.jobs)
    return report


def run_http_bench(
    drivers: Sequence[str],
    options: HttpOptions,
    workdir: Path,
    progress: Progress = lambda _message: None,
) -> dict[str, Any]:
    """The generated FastAPI service against the hand-written app over HTTP, per driver, as
    the JSON document `sqla-template bench --http --json` writes."""
    measured: dict[str, Any] = {}
    with Databases() as databases:
        for driver in drivers:
            progress(
                f"{driver}: render, install, migrate, fill, serve both apps, drive them with wrk"
            )
            measured[driver] = bench_http(driver, workdir / "http", databases, options)
    return {
        "machine": machine(),
        "http": {
            "parameters": {
                "posts": options.posts,
                "rounds": options.rounds,
                "seconds": options.seconds,
                "connections": options.connections,
            },
            "drivers": measured,
        },
    }


def machine() -> dict[str, Any]:
    """Where and when the figures were measured, and with what (the drivers report their own
    versions, read inside each project)."""
    return {
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "copier": metadata.version("copier"),
    }
