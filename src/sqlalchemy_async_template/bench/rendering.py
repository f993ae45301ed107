"""How long rendering this template takes, against Copier's floor: a one-file template.

Both are timed as the `copier copy --defaults` command a user runs (Python's start and
Copier's imports included) and in process (`copier.run_copy`, Copier's own work only), in
interleaved rounds after one untimed warm-up of each.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import copier

from ..template import isolated_copier_settings, snapshot
from ..tools import copier_executable


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


def copy_with_command(template: Path, destination: Path) -> None:
    subprocess.run(
        [copier_executable(), "copy", "--defaults", "--quiet", str(template), str(destination)],
        capture_output=True,
        check=True,
    )


def copy_in_process(template: Path, destination: Path) -> None:
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
    """Render times of the `copier copy --defaults` command, and of `copier.run_copy`, for
    this template outside git (nothing to clone) and for the floor."""
    ours = snapshot(workdir / "ours")
    floor = floor_template(workdir / "floor")
    with isolated_copier_settings(workdir):
        return {
            "command": time_renders(copy_with_command, ours, floor, workdir, rounds),
            "in_process": time_renders(copy_in_process, ours, floor, workdir, rounds),
        }
