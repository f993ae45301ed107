"""`sqla-template bench` runs end to end and reports every measurement the issue asks for.

Timings on a shared machine are noise, so these tests check the report's shape and the
statement counts, never the value of a ratio.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from sqlalchemy_async_template import bench
from sqlalchemy_async_template.cli import app

runner = CliRunner()
PAGE_SIZES = {"10", "100", "1000"}


def test_bench_measures_a_driver_and_the_render(tmp_path: Path) -> None:
    report_file = tmp_path / "bench.json"
    result = runner.invoke(
        app,
        [
            "bench",
            "--drivers",
            "aiosqlite",
            "--rows",
            "500",
            "--rounds",
            "2",
            "--json",
            str(report_file),
            "--workdir",
            str(tmp_path / "work"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "aiosqlite" in result.output
    assert "render:" in result.output

    report: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["parameters"]["rows"] == 500
    assert set(report["drivers"]) == {"aiosqlite"}
    measured = report["drivers"]["aiosqlite"]
    for ratio in ("bulk_insert_ratio", "read_ratio", "read_orm_ratio"):
        assert isinstance(measured[ratio], float), ratio
        assert measured[ratio] > 0, ratio
    for name in ("statements", "statements_read_model"):
        counts = measured[name]
        assert set(counts) == PAGE_SIZES, name
        assert len(set(counts.values())) == 1, f"{name} grow with the page size: {counts}"
        assert max(counts.values()) <= bench.MAX_STATEMENTS, counts
    assert measured["details"]["bulk_insert"]["raw_seconds"] > 0
    assert report["render_ratio"] > 0
    assert report["render"]["in_process"]["floor_seconds"] > 0
    assert isinstance(report["missed_targets"], list)
    assert "matrix" not in report


def test_bench_refuses_an_unknown_driver() -> None:
    result = runner.invoke(app, ["bench", "--drivers", "asyncpg,oracle"])
    assert result.exit_code != 0
    assert "oracle" in result.output


def test_missed_targets_say_which_and_by_how_much() -> None:
    report: dict[str, Any] = {
        "render_ratio": 1.7,
        "drivers": {
            "asyncpg": {
                "bulk_insert_ratio": 0.5,
                "read_ratio": 0.9,
                "statements": {"10": 3, "100": 4},
                "statements_read_model": {"10": 2, "100": 2},
            }
        },
    }
    assert bench.missed_targets(report) == [
        "asyncpg: bulk insert ratio 0.5 < 0.75",
        "asyncpg: statements {'10': 3, '100': 4} not constant <= 3",
        "render ratio 1.7 > 1.5",
    ]
