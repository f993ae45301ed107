"""The report of `sqla-template bench --http`: a table on screen, the Markdown of the
`bench-http` section of `docs/performance.md`, and its picture.

The ratio is the generated service's requests per second over the hand-written app's, taken
round by round (1.0 is as fast); the p99 ratio is the generated p99 over the hand-written one
(1.0 is as steady, above 1.0 a longer tail).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .charts import bar_chart

HTTP_CHART = "performance-http.svg"
LABELS = {
    "one_post": "one post",
    "page_20": "a page of 20",
    "page_100": "a page of 100",
    "create": "a create",
    "patch": "a PATCH",
}
HEADER = [
    "driver",
    "route",
    "generated req/s",
    "hand-written req/s",
    "ratio",
    "generated p50 / p99 ms",
    "hand-written p50 / p99 ms",
    "p99 ratio",
]


def http_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for driver, measured in report["http"]["drivers"].items():
        for route in measured["routes"].values():
            generated, raw = route["generated"], route["raw"]
            low, high = route["ratio_quartiles"]
            rows.append(
                [
                    driver,
                    f"`{route['title']}`",
                    f"{generated['requests_per_second']:,.0f}",
                    f"{raw['requests_per_second']:,.0f}",
                    f"{route['ratio']:.2f} ({low:.2f}-{high:.2f})",
                    f"{generated['p50_ms']:.1f} / {generated['p99_ms']:.1f}",
                    f"{raw['p50_ms']:.1f} / {raw['p99_ms']:.1f}",
                    f"{route['p99_ratio']:.2f}",
                ]
            )
    return rows


def _caption(report: dict[str, Any]) -> str:
    parameters = report["http"]["parameters"]
    return (
        f"median of {parameters['rounds']} interleaved rounds of {parameters['seconds']} s per "
        f"side, {parameters['connections']} connections, {parameters['posts']:,} posts"
    )


def http_table(report: dict[str, Any]) -> Table:
    table = Table(
        title="Over HTTP: the generated FastAPI service / a hand-written app on the raw driver",
        caption=_caption(report),
    )
    for title in HEADER:
        table.add_column(title, justify="left" if title in ("driver", "route") else "right")
    for row in http_rows(report):
        table.add_row(*(cell.strip("`") for cell in row))
    return table


def errors_lines(report: dict[str, Any]) -> list[str]:
    """Runs in which some requests failed (a 412 of a PATCH that lost a race, a timeout)."""
    lines = []
    for driver, measured in report["http"]["drivers"].items():
        for route in measured["routes"].values():
            for side, label in (("generated", "generated"), ("raw", "hand-written")):
                counts = route[side]
                if counts["errors"]:
                    lines.append(
                        f"{driver} {route['title']}: {counts['errors']} of {counts['requests']} "
                        f"requests to the {label} app failed"
                    )
    return lines


def http_markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        f"Measured on {machine['date']} with `sqla-template bench --http`: {machine['cpus']} "
        f"CPUs, {machine['platform']}, Python {machine['python']}; wrk with one thread, each app "
        f"served by uvicorn with one worker; {_caption(report)}.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + " --- |" * len(HEADER),
        *("| " + " | ".join(row) + " |" for row in http_rows(report)),
        "",
        f"![Requests per second over HTTP against the hand-written app]({HTTP_CHART})",
    ]
    failures = errors_lines(report)
    if failures:
        lines += ["", *(f"- {line}" for line in failures)]
    return "\n".join(lines) + "\n"


def http_charts(report: dict[str, Any]) -> dict[str, str]:
    drivers = report["http"]["drivers"]
    first = next(iter(drivers.values()))["routes"]
    return {
        HTTP_CHART: bar_chart(
            "Over HTTP: generated req/s over hand-written req/s",
            list(drivers),
            {
                LABELS.get(name, name): [m["routes"][name]["ratio"] for m in drivers.values()]
                for name in first
            },
            y_label="ratio (1: as fast as hand-written)",
            reference=(1.0, "as fast"),
        )
    }
