"""`sqla-template bench`: the generated data layer against the raw driver, side by side.

For each driver: render a project, install it, migrate a real database (the same throw-away
servers as the tests) and run `bench_probe.py` with the project's own Python, which times the
repository and the raw driver in one process. Then time rendering this template against
Copier's floor (a one-file template), and, when asked, the whole verification matrix.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import yaml
from rich.table import Table

from . import verify
from .databases import Databases
from .matrix import COPIER_YML, TEMPLATE_ROOT, Combination, all_combinations
from .render import render_combination
from .runner import run_matrix
from .verify import STEP_NAMES, project_environment

PROBE = Path(__file__).with_name("bench_probe.py")
# The copier executable of this environment: `copier copy` as a user runs it.
COPIER = Path(sys.executable).with_name("copier")
PROBE_TIMEOUT_SECONDS = 900

# The targets: the generated code against the raw driver, and the render time.
MIN_BULK_INSERT_RATIO = 0.75
MIN_READ_RATIO = 0.33
MAX_STATEMENTS = 3
MAX_RENDER_RATIO = 1.5

Progress = Callable[[str], None]


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which, with what it printed."""


@dataclass(frozen=True)
class BenchOptions:
    drivers: tuple[str, ...]
    rows: int = 10_000
    posts: int = 1_000
    rounds: int = 5
    page_sizes: tuple[int, ...] = (10, 100, 1000)
    matrix: bool = False
    jobs: int = 2


# --- One driver -----------------------------------------------------------------------------


def bench_driver(
    driver: str, workdir: Path, databases: Databases, options: BenchOptions
) -> dict[str, Any]:
    """Render, install and migrate a project for `driver`, then run the probe in it."""
    combination = Combination(driver, "annotated", "uow")
    project = render_combination(combination, workdir / driver)
    install(project)
    url = databases.url_for(combination, f"bench_{driver}")
    if url is None:  # SQLite: a file of the project's own
        url = f"sqlite+aiosqlite:///{project / 'bench.db'}"
    run_against(project, url, ["alembic", "upgrade", "head"], what="alembic upgrade head")
    return run_probe(project, url, options)


def install(project: Path) -> None:
    verification = verify.install(project)
    if not verification.passed:
        raise BenchError(f"installing {project} failed:\n{verification.failure_report()}")


def run_against(project: Path, url: str, command: Sequence[str], *, what: str) -> str:
    """Run a command of the project's virtual environment against `url`; return its stdout."""
    completed = verify.run_in_project(
        project, command, project_environment(url), timeout=PROBE_TIMEOUT_SECONDS
    )
    if completed.returncode != 0:
        raise BenchError(
            f"{what} failed in {project} (exit {completed.returncode}):\n"
            f"{completed.stdout}{completed.stderr}"
        )
    return completed.stdout


def run_probe(project: Path, url: str, options: BenchOptions) -> dict[str, Any]:
    # -I: the probe's own directory must not shadow modules of the project's environment.
    command = ["python", "-I", str(PROBE), "--package", package_of(project), "--url", url]
    command += ["--rows", str(options.rows), "--posts", str(options.posts)]
    command += ["--rounds", str(options.rounds), "--sizes", *map(str, options.page_sizes)]
    result: dict[str, Any] = json.loads(run_against(project, url, command, what="the probe"))
    return result


def package_of(project: Path) -> str:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return str(answers["package_name"])


def driver_summary(probe: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of one driver, with the probe's measurements under `details`."""
    return {
        "bulk_insert_ratio": probe["bulk_insert"]["ratio"],
        "read_ratio": probe["read"]["ratio"],
        "read_orm_ratio": probe["read_orm"]["ratio"],
        "statements": probe["statements"],
        "statements_read_model": probe["statements_read_model"],
        "details": probe,
    }


# --- Rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderTimes:
    """Median seconds to render this template and Copier's one-file floor."""

    ours_seconds: float
    floor_seconds: float

    @property
    def ratio(self) -> float:
        return self.ours_seconds / self.floor_seconds

    def as_json(self) -> dict[str, float]:
        return {
            "ours_seconds": round(self.ours_seconds, 4),
            "floor_seconds": round(self.floor_seconds, 4),
            "ratio": round(self.ratio, 3),
        }


def snapshot_template(destination: Path) -> Path:
    """This template (copier.yml and template/) outside git, so that Copier renders it as it
    is instead of cloning the repository first."""
    shutil.copy2(COPIER_YML, destination / "copier.yml")
    shutil.copytree(
        TEMPLATE_ROOT / "template",
        destination / "template",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return destination


def floor_template(destination: Path) -> Path:
    """The smallest useful Copier template: one question, one file."""
    (destination / "template").mkdir(parents=True)
    (destination / "copier.yml").write_text(
        "_subdirectory: template\nproject_name:\n  type: str\n  default: Example\n",
        encoding="utf-8",
    )
    (destination / "template/README.md.jinja").write_text(
        "# {{ project_name }}\n", encoding="utf-8"
    )
    return destination


@contextmanager
def empty_copier_settings(directory: Path) -> Iterator[None]:
    """Keep the user's own ~/.config/copier/settings.yml out of the timings."""
    settings = directory / "copier-settings.yml"
    settings.write_text("{}\n", encoding="utf-8")
    previous = os.environ.get("COPIER_SETTINGS_PATH")
    os.environ["COPIER_SETTINGS_PATH"] = str(settings)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["COPIER_SETTINGS_PATH"]
        else:
            os.environ["COPIER_SETTINGS_PATH"] = previous


def copy_with_command(template: Path, destination: Path) -> None:
    """`copier copy --defaults`, the command a user runs: Python's start and Copier's imports
    included."""
    subprocess.run(
        [str(COPIER), "copy", "--defaults", "--quiet", str(template), str(destination)],
        capture_output=True,
        check=True,
    )


def copy_in_process(template: Path, destination: Path) -> None:
    """`copier.run_copy`: Copier's own work only."""
    copier.run_copy(str(template), destination, defaults=True, unsafe=False, quiet=True)


def time_renders(
    copy: Callable[[Path, Path], None], ours: Path, floor: Path, workdir: Path, rounds: int
) -> RenderTimes:
    """Ours, floor, ours, floor, ... after one untimed warm-up of each; median of each."""
    timings: dict[Path, list[float]] = {ours: [], floor: []}
    for round_number in range(rounds + 1):
        for template in (ours, floor):
            destination = Path(tempfile.mkdtemp(dir=workdir)) / "example"
            started = time.perf_counter()
            copy(template, destination)
            elapsed = time.perf_counter() - started
            shutil.rmtree(destination.parent)
            if round_number > 0:
                timings[template].append(elapsed)
    return RenderTimes(statistics.median(timings[ours]), statistics.median(timings[floor]))


def bench_render(workdir: Path, rounds: int) -> dict[str, RenderTimes]:
    """Render times of the `copier copy --defaults` command, and of `copier.run_copy`."""
    (workdir / "ours").mkdir(parents=True)
    ours = snapshot_template(workdir / "ours")
    floor = floor_template(workdir / "floor")
    with empty_copier_settings(workdir):
        return {
            "command": time_renders(copy_with_command, ours, floor, workdir, rounds),
            "in_process": time_renders(copy_in_process, ours, floor, workdir, rounds),
        }


# --- The verification matrix ----------------------------------------------------------------


def bench_matrix(workdir: Path, jobs: int) -> dict[str, Any]:
    """Verify every combination; the wall time, and each step's time summed over them."""
    outcome = run_matrix(all_combinations(), workdir, jobs=jobs)
    steps = {
        name: round(
            sum(
                step.seconds
                for verification in outcome.verifications.values()
                for step in verification.steps
                if step.name == name
            ),
            1,
        )
        for name in STEP_NAMES
    }
    return {
        "wall_seconds": round(outcome.wall_seconds, 1),
        "jobs": jobs,
        "combinations": len(outcome.verifications),
        "passed": sum(verification.passed for verification in outcome.verifications.values()),
        "failed": sorted(
            combination.slug
            for combination, verification in outcome.verifications.items()
            if not verification.passed
        ),
        "steps": steps,
    }


# --- The whole benchmark --------------------------------------------------------------------


def run_bench(
    options: BenchOptions, workdir: Path, progress: Progress = lambda _message: None
) -> dict[str, Any]:
    """Every measurement, as the JSON document `sqla-template bench --json` writes."""
    drivers: dict[str, Any] = {}
    with Databases() as databases:
        for driver in options.drivers:
            progress(f"{driver}: render, install, migrate, measure")
            probe = bench_driver(driver, workdir / "projects", databases, options)
            drivers[driver] = driver_summary(probe)
    progress("render: this template against a one-file template")
    render = bench_render(workdir / "render", options.rounds)
    report: dict[str, Any] = {
        "render_ratio": round(render["command"].ratio, 3),
        "drivers": drivers,
        "render": {name: times.as_json() for name, times in render.items()},
        "parameters": {
            "rows": options.rows,
            "posts": options.posts,
            "rounds": options.rounds,
            "page_sizes": list(options.page_sizes),
        },
    }
    if options.matrix:
        progress(f"matrix: verify all {len(all_combinations())} combinations")
        report["matrix"] = bench_matrix(workdir / "matrix", options.jobs)
    report["missed_targets"] = missed_targets(report)
    return report


def missed_targets(report: dict[str, Any]) -> list[str]:
    """Each target of the issue that this report misses, said in a sentence."""
    missed = []
    for driver, result in report["drivers"].items():
        if result["bulk_insert_ratio"] < MIN_BULK_INSERT_RATIO:
            missed.append(
                f"{driver}: bulk insert ratio {result['bulk_insert_ratio']} "
                f"< {MIN_BULK_INSERT_RATIO}"
            )
        if result["read_ratio"] < MIN_READ_RATIO:
            missed.append(f"{driver}: read ratio {result['read_ratio']} < {MIN_READ_RATIO}")
        for name in ("statements", "statements_read_model"):
            counts = set(result[name].values())
            if len(counts) > 1 or max(counts) > MAX_STATEMENTS:
                missed.append(f"{driver}: {name} {result[name]} not constant <= {MAX_STATEMENTS}")
    if report["render_ratio"] > MAX_RENDER_RATIO:
        missed.append(f"render ratio {report['render_ratio']} > {MAX_RENDER_RATIO}")
    return missed


def results_table(report: dict[str, Any]) -> Table:
    """One row per driver: ratios to the raw driver (1.0 = as fast) and statement counts."""
    parameters = report["parameters"]
    sizes = "/".join(map(str, parameters["page_sizes"]))
    table = Table(
        title=f"Generated / raw driver, median of {parameters['rounds']} interleaved rounds",
        caption=f"{parameters['rows']} rows inserted, {parameters['posts']} posts read; "
        f"statements for N = {sizes} posts",
    )
    table.add_column("driver")
    table.add_column(f"bulk insert\n>= {MIN_BULK_INSERT_RATIO}", justify="right")
    table.add_column(f"read, rows\n>= {MIN_READ_RATIO}", justify="right")
    table.add_column("read, ORM", justify="right")
    table.add_column("statements\nsummaries()", justify="right")
    table.add_column("statements\npage()", justify="right")
    for driver, result in report["drivers"].items():
        table.add_row(
            driver,
            _at_least(result["bulk_insert_ratio"], MIN_BULK_INSERT_RATIO),
            _at_least(result["read_ratio"], MIN_READ_RATIO),
            f"{result['read_orm_ratio']:.2f}",
            "/".join(map(str, result["statements_read_model"].values())),
            "/".join(map(str, result["statements"].values())),
        )
    return table


def _at_least(value: float, minimum: float) -> str:
    colour = "green" if value >= minimum else "red"
    return f"[{colour}]{value:.2f}[/{colour}]"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The render ratio, the matrix timings when measured, and every missed target."""
    command = report["render"]["command"]
    in_process = report["render"]["in_process"]
    lines = [
        f"render: copier copy --defaults {command['ours_seconds']:.2f}s against "
        f"{command['floor_seconds']:.2f}s for a one-file template, ratio "
        f"{report['render_ratio']:.2f} (<= {MAX_RENDER_RATIO}); in process (copier.run_copy) "
        f"{in_process['ours_seconds']:.3f}s against {in_process['floor_seconds']:.3f}s, "
        f"ratio {in_process['ratio']:.1f}",
    ]
    if "matrix" in report:
        matrix = report["matrix"]
        lines.append(
            f"matrix: {matrix['passed']}/{matrix['combinations']} passed in "
            f"{matrix['wall_seconds']:.0f}s wall time with {matrix['jobs']} jobs; summed per step: "
            + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in matrix["steps"].items())
        )
        lines += [f"matrix: {slug} failed" for slug in matrix["failed"]]
    lines += [f"missed: {miss}" for miss in report["missed_targets"]]
    return lines
