"""The benchmark's report: a table on screen, and the Markdown of `docs/performance.md`.

Every figure is a ratio measured side by side in one run (generated code / raw driver, this
template / a one-file template); 1.0 means as fast. The report states the machine, the
versions and the date, since these figures move with all three.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.table import Table

from .charts import bar_chart, line_chart


def results_table(report: dict[str, Any]) -> Table:
    """One row per driver: ratios to the raw driver and statement counts."""
    parameters = report["parameters"]
    sizes = "/".join(map(str, parameters["page_sizes"]))
    table = Table(
        title=f"Raw driver time / generated time, median (quartiles) of {parameters['rounds']} "
        "interleaved rounds",
        caption=f"{parameters['rows']} rows inserted, {parameters['posts']} posts read; "
        f"statements for N = {sizes} posts",
    )
    for title in HEADER:
        table.add_column(title, justify="left" if title == "driver" else "right")
    for row in driver_rows(report):
        table.add_row(*row)
    return table


class Column(NamedTuple):
    key: str  # a comparison of the probe's, or a statement count of a driver's results
    title: str


RATIO_COLUMNS = (
    Column("bulk_insert", "bulk insert"),
    Column("read", "read, typed rows"),
    Column("read_orm", "read, ORM objects"),
)
STATEMENT_COLUMNS = (
    Column("statements_read_model", "statements post_summaries()"),
    Column("statements", "statements page()"),
)
DEPTH_COLUMNS = (
    Column("keyset_depth_ratio", "keyset, deepest / first page"),
    Column("offset_depth_ratio", "OFFSET, deepest / first page"),
)
HEADER = [
    "driver",
    *(c.title for c in RATIO_COLUMNS),
    *(c.title for c in STATEMENT_COLUMNS),
    *(c.title for c in DEPTH_COLUMNS),
]
# The pictures `markdown()` refers to, written next to the Markdown file.
DEPTH_CHART = "performance-depth.svg"
BULK_CHART = "performance-bulk-insert.svg"


def ratio_text(comparison: dict[str, Any]) -> str:
    """A ratio and the quartiles of its rounds: `0.91 (0.88-0.94)`."""
    low, high = comparison["ratio_quartiles"]
    return f"{comparison['ratio']:.2f} ({low:.2f}-{high:.2f})"


def driver_rows(report: dict[str, Any]) -> list[list[str]]:
    return [
        [
            driver,
            *(ratio_text(result["details"][column.key]) for column in RATIO_COLUMNS),
            *(" / ".join(map(str, result[column.key].values())) for column in STATEMENT_COLUMNS),
            *(f"{result[column.key]:.2f}" for column in DEPTH_COLUMNS),
        ]
        for driver, result in report["drivers"].items()
    ]


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The render ratio, the first run, and the suite and matrix timings when measured."""
    command = report["render"]["command"]
    in_process = report["render"]["in_process"]
    lines = [
        f"render: copier copy --defaults {command['ours_seconds']:.2f}s against "
        f"{command['floor_seconds']:.2f}s for a one-file template, ratio "
        f"{report['render_ratio']:.2f}; in process (copier.run_copy) "
        f"{in_process['ours_seconds']:.3f}s against {in_process['floor_seconds']:.3f}s, "
        f"ratio {in_process['ratio']:.1f}",
    ]
    if "first_run" in report:
        first = report["first_run"]
        lines.append(
            f"first run: copier copy --defaults to a green pytest in {first['total_seconds']:.1f}s "
            f"with uv's cache warm: render {first['render_seconds']:.1f}s, install (uv sync) "
            f"{first['install_seconds']:.1f}s, tests (uv run pytest) {first['tests_seconds']:.1f}s"
        )
    if "suite" in report:
        suite = report["suite"]
        lines.append(
            f"generated test suite ({suite['combination']}): {suite['serial_seconds']:.1f}s "
            f"without workers, {suite['parallel_seconds']:.1f}s with -n {suite['workers']}"
        )
    if "matrix" in report:
        matrix = report["matrix"]
        lines.append(
            f"matrix: {matrix['passed']}/{matrix['combinations']} passed in "
            f"{matrix['wall_seconds']:.0f}s wall time with {matrix['jobs']} jobs; summed per step: "
            + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in matrix["steps"].items())
        )
        lines += [f"matrix: {slug} failed" for slug in matrix["failed"]]
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The measured part of `docs/performance.md`."""
    machine = report["machine"]
    parameters = report["parameters"]
    lines = [
        f"Measured on {machine['date']} with `sqla-template bench`: {machine['cpus']} CPUs, "
        f"{machine['platform']}, Python {machine['python']}, Copier {machine['copier']}; "
        f"median of {parameters['rounds']} interleaved rounds, {parameters['rows']:,} rows "
        f"inserted, {parameters['posts']:,} posts read.",
        "",
        _markdown_table(HEADER, driver_rows(report)),
        "",
        f"![Page time by depth, keyset and OFFSET]({DEPTH_CHART})",
        "",
        f"![Bulk insert against the raw driver's executemany]({BULK_CHART})",
        "",
        "Versions, as each generated project installed them:",
        "",
    ]
    for driver, result in report["drivers"].items():
        versions = ", ".join(f"{name} {v}" for name, v in result["details"]["versions"].items())
        lines.append(f"- {driver}: {versions}")
    lines += ["", *(f"- {line}" for line in summary_lines(report))]
    return "\n".join(lines) + "\n"


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def charts(report: dict[str, Any]) -> dict[str, str]:
    """The pictures of `markdown()`, by file name: page time by depth for keyset and OFFSET
    per driver, and the bulk-insert ratio per driver against the raw driver."""
    drivers = report["drivers"]
    first = next(iter(drivers.values()))["details"]
    depths = [int(depth) for depth in first["depth"]["keyset"]["milliseconds"]]
    series = {
        f"{driver} {label}": list(result["details"]["depth"][method]["milliseconds"].values())
        for driver, result in drivers.items()
        for method, label in (("keyset", "keyset"), ("offset", "OFFSET"))
    }
    return {
        DEPTH_CHART: line_chart(
            f"A page of {first['depth_page_rows']} users by depth, keyset and OFFSET",
            depths,
            series,
            x_label="rows before the page",
            y_label="milliseconds (median)",
            paired=True,
        ),
        BULK_CHART: bar_chart(
            "Bulk insert: add_users() against the raw driver's executemany",
            list(drivers),
            {"raw / add_users()": [r["bulk_insert_ratio"] for r in drivers.values()]},
            y_label="ratio (above 1: faster than the raw driver)",
            reference=(1.0, "as fast as raw"),
        ),
    }
