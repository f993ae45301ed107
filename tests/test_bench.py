"""`sqla-template bench` runs end to end and reports what it measured.

Timings on a shared machine are noise, so these tests check what does not depend on speed:
the statement counts, that both sides of every comparison ran, and what the reports say.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sqlalchemy_async_template.cli import HTTP_PERFORMANCE_SECTION, PERFORMANCE_SECTION, app
from sqlalchemy_async_template.docs import marked_section

runner = CliRunner()
PAGE_SIZES = ["10", "100", "1000"]


def test_bench_measures_a_driver_and_the_render(tmp_path: Path) -> None:
    report_file = tmp_path / "bench.json"
    performance = tmp_path / "performance.md"
    performance.write_text(
        f"# Performance\n\nHand-written targets.\n\n<!-- {PERFORMANCE_SECTION}:start -->\n"
        f"old figures\n<!-- {PERFORMANCE_SECTION}:end -->\n\nHand-written notes.\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        [
            *("bench", "--drivers", "aiosqlite", "--rows", "500", "--rounds", "2"),
            *("--depths", "0,100,2000"),
            *("--json", str(report_file), "--markdown", str(performance)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "aiosqlite" in result.output
    assert "render:" in result.output

    report: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["parameters"]["rows"] == 500
    assert report["machine"]["cpus"] >= 1
    assert set(report["drivers"]) == {"aiosqlite"}
    measured = report["drivers"]["aiosqlite"]
    # Repository methods cost a fixed number of statements, whatever the page size.
    assert measured["statements"] == dict.fromkeys(PAGE_SIZES, 3)
    assert measured["statements_read_model"] == dict.fromkeys(PAGE_SIZES, 2)
    details = measured["details"]
    for name in ("bulk_insert", "read", "read_orm"):
        comparison = details[name]
        assert comparison["generated_seconds"] > 0, name
        assert comparison["raw_seconds"] > 0, name
        # The median of the rounds' ratios lies between their quartiles.
        low, high = comparison["ratio_quartiles"]
        assert 0 < low <= comparison["ratio"] <= high, (name, comparison)
    # Both ways to page were read at every depth; the depth ratios say how their cost grows.
    for method in ("keyset", "offset"):
        assert set(details["depth"][method]["milliseconds"]) == {"0", "100", "2000"}
        assert details["depth"][method]["depth_ratio"] > 0
    assert measured["keyset_depth_ratio"] == details["depth"]["keyset"]["depth_ratio"]
    assert measured["offset_depth_ratio"] == details["depth"]["offset"]["depth_ratio"]
    assert details["versions"]["sqlalchemy"].startswith("2.1")
    assert details["versions"]["server"].startswith("3.")  # SQLite 3
    assert report["render"]["command"]["floor_seconds"] > 0
    # The first run was timed step by step, and its total is the sum of the steps.
    first = report["first_run"]
    steps = [first[f"{step}_seconds"] for step in ("render", "install", "tests")]
    assert all(seconds > 0 for seconds in steps), first
    assert first["total_seconds"] == pytest.approx(sum(steps), abs=0.02)
    assert "first run: copier copy --defaults to a green pytest" in result.output
    assert "matrix" not in report

    written = performance.read_text(encoding="utf-8")
    figures = marked_section(written, PERFORMANCE_SECTION)
    assert "old figures" not in figures
    assert "| aiosqlite |" in figures
    assert f"in {first['total_seconds']:.1f}s" in figures
    assert f"{report['machine']['cpus']} CPUs" in figures
    assert written.startswith("# Performance\n\nHand-written targets.\n")
    for picture in ("performance-depth.svg", "performance-bulk-insert.svg"):
        svg = (tmp_path / picture).read_text(encoding="utf-8")
        assert svg.startswith("<svg"), picture
        assert "aiosqlite" in svg, picture
        assert f"]({picture})" in figures
    assert written.endswith("\nHand-written notes.\n")


def test_bench_refuses_an_unknown_driver() -> None:
    result = runner.invoke(app, ["bench", "--drivers", "asyncpg,oracle"])
    assert result.exit_code != 0
    assert "oracle" in result.output


def test_bench_markdown_needs_its_markers(tmp_path: Path) -> None:
    """Figures are never written over a file's hand-written text: without the markers, the
    command says which lines to add (before measuring anything)."""
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n", encoding="utf-8")
    result = runner.invoke(
        app, ["bench", "--drivers", "aiosqlite", "--markdown", str(notes), "--rounds", "1"]
    )
    assert result.exit_code == 1
    assert f"<!-- {PERFORMANCE_SECTION}:start -->" in result.output
    assert notes.read_text(encoding="utf-8") == "# Notes\n"


def test_bench_times_the_generated_suite_with_and_without_workers(tmp_path: Path) -> None:
    report_file = tmp_path / "bench.json"
    result = runner.invoke(
        app,
        [
            *("bench", "--drivers", "aiosqlite", "--rows", "100", "--rounds", "1"),
            *("--depths", "0,50", "--suite", "--json", str(report_file)),
        ],
    )
    assert result.exit_code == 0, result.output
    suite = json.loads(report_file.read_text(encoding="utf-8"))["suite"]
    assert suite["combination"] == "asyncpg-annotated-fastapi"
    assert suite["serial_seconds"] > 0
    assert suite["parallel_seconds"] > 0
    assert "with -n 2" in result.output


HTTP_ROUTES = {"one_post", "page_20", "page_100", "create", "patch"}


@pytest.mark.parametrize("driver", ["aiosqlite", "asyncpg", "asyncmy"])
def test_bench_http_drives_both_apps_on_every_route(tmp_path: Path, driver: str) -> None:
    """The generated service and the hand-written app, served alike and driven by wrk: both
    answered every route (the read routes with the same JSON, or the run stops), and the
    report says what each side did, in JSON, Markdown and a picture."""
    report_file = tmp_path / "bench.json"
    performance = tmp_path / "performance.md"
    performance.write_text(
        f"# Performance\n\n<!-- {HTTP_PERFORMANCE_SECTION}:start -->\nold\n"
        f"<!-- {HTTP_PERFORMANCE_SECTION}:end -->\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        [
            *("bench", "--http", "--drivers", driver, "--posts", "150", "--rounds", "1"),
            *("--seconds", "2", "--connections", "4"),
            *("--json", str(report_file), "--markdown", str(performance)),
        ],
    )
    assert result.exit_code == 0, result.output

    http = json.loads(report_file.read_text(encoding="utf-8"))["http"]
    assert http["parameters"] == {"posts": 150, "rounds": 1, "seconds": 2, "connections": 4}
    routes = http["drivers"][driver]["routes"]
    assert set(routes) == HTTP_ROUTES
    for name, route in routes.items():
        for side in ("generated", "raw"):
            measured = route[side]
            assert measured["requests"] > measured["errors"], (name, side, measured)
            assert measured["requests_per_second"] > 0, (name, side)
            assert 0 < measured["p50_ms"] <= measured["p99_ms"], (name, side, measured)
        # One round: the ratio is that round's, generated over hand-written.
        expected = route["generated"]["requests_per_second"] / route["raw"]["requests_per_second"]
        assert route["ratio"] == pytest.approx(expected, rel=0.01, abs=0.002), name
        p99_ratio = route["generated"]["p99_ms"] / route["raw"]["p99_ms"]
        assert route["p99_ratio"] == pytest.approx(p99_ratio, rel=0.01, abs=0.002), name
    assert routes["one_post"]["title"] == "GET /posts/76"  # the middle one of 150

    figures = marked_section(performance.read_text(encoding="utf-8"), HTTP_PERFORMANCE_SECTION)
    assert "old" not in figures
    assert figures.count(f"| {driver} |") == len(HTTP_ROUTES)
    assert "`PATCH /posts/{id} with If-Match`" in figures
    svg = (tmp_path / "performance-http.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    assert driver in svg
    assert "a PATCH" in svg
