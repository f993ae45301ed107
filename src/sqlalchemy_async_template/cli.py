"""`sqla-template`: create projects from the template, and verify them."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from . import bench, matrix
from .matrix import Combination, MatrixError
from .render import render
from .runner import run_matrix
from .servers import ServerError
from .verify import STEP_NAMES, StepResult, Verification, verify

app = typer.Typer(
    help="Create async SQLAlchemy 2.1 projects from the template, and verify them.",
    no_args_is_help=True,
)
console = Console()


def _choice_help(question: str) -> str:
    return f"One of: {', '.join(matrix.choices(question))} (default {matrix.default(question)})."


def _check_choice(question: str, value: str | None) -> str | None:
    if value is not None and value not in matrix.choices(question):
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(matrix.choices(question))}")
    return value


@app.command()
def new(
    destination: Annotated[Path, typer.Argument(help="Directory of the new project.")],
    project_name: Annotated[str | None, typer.Option(help="Human-readable project name.")] = None,
    driver: Annotated[
        str | None,
        typer.Option(
            help=_choice_help("database_driver"),
            autocompletion=lambda: list(matrix.choices("database_driver")),
        ),
    ] = None,
    model_style: Annotated[
        str | None,
        typer.Option(
            help=_choice_help("model_style"),
            autocompletion=lambda: list(matrix.choices("model_style")),
        ),
    ] = None,
    session_pattern: Annotated[
        str | None,
        typer.Option(
            help=_choice_help("session_pattern"),
            autocompletion=lambda: list(matrix.choices("session_pattern")),
        ),
    ] = None,
    examples: Annotated[
        bool, typer.Option(help="Include the example domain (User, Post, Tag).")
    ] = True,
) -> None:
    """Create a project, like `copier copy --defaults` with typed options."""
    answers: dict[str, object] = {"include_examples": examples}
    for question, value in (
        ("database_driver", driver),
        ("model_style", model_style),
        ("session_pattern", session_pattern),
    ):
        if _check_choice(question, value) is not None:
            answers[question] = value
    answers["project_name"] = project_name or destination.resolve().name.replace("_", " ")
    try:
        render(destination, answers, quiet=False)
    except ValueError as error:  # an answer refused by a copier.yml validator
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error


def _status_table(
    combinations: list[Combination], results: dict[Combination, dict[str, StepResult]]
) -> Table:
    table = Table(title="Template matrix", show_lines=False)
    table.add_column("combination")
    for name in STEP_NAMES:
        table.add_column(name, justify="right")
    table.add_column("total", justify="right")
    for combination in combinations:
        steps = results.get(combination, {})
        cells = []
        for name in STEP_NAMES:
            step = steps.get(name)
            if step is None:
                cells.append("[dim]…[/dim]" if steps else "")
            else:
                colour = "green" if step.passed else "red"
                cells.append(f"[{colour}]{step.seconds:.1f}s[/{colour}]")
        total = sum(step.seconds for step in steps.values())
        table.add_row(combination.slug, *cells, f"{total:.1f}s" if steps else "")
    return table


@app.command("matrix")
def matrix_command(
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Keep combinations where KEY=VALUE (repeatable), e.g. database_driver=asyncpg."
        ),
    ] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Combinations verified at the same time.")] = 2,
    workdir: Annotated[
        Path | None, typer.Option(help="Where to render projects (default: a temporary directory).")
    ] = None,
) -> None:
    """Render and verify combinations against real databases; exits non-zero on any failure."""
    try:
        combinations = matrix.select(only or [])
    except MatrixError as error:
        raise typer.BadParameter(str(error), param_hint="--only") from error
    results: dict[Combination, dict[str, StepResult]] = {}
    with tempfile.TemporaryDirectory(prefix="sqla-matrix-") as temporary:
        root = workdir or Path(temporary)
        root.mkdir(parents=True, exist_ok=True)
        with Live(
            _status_table(combinations, results), console=console, refresh_per_second=4
        ) as live:

            def on_step(combination: Combination, step: StepResult) -> None:
                results.setdefault(combination, {})[step.name] = step
                live.update(_status_table(combinations, results))

            outcome = run_matrix(combinations, root, jobs=jobs, on_step=on_step)
    console.print()
    failed = [c for c, v in outcome.verifications.items() if not v.passed]
    for combination in failed:
        console.rule(f"[red]{combination.slug}")
        console.print(outcome.verifications[combination].failure_report(), markup=False)
    step_totals = {
        name: sum(
            step.seconds
            for verification in outcome.verifications.values()
            for step in verification.steps
            if step.name == name
        )
        for name in STEP_NAMES
    }
    console.print(
        f"{len(combinations) - len(failed)} passed, {len(failed)} failed "
        f"in {outcome.wall_seconds:.0f}s wall time; time per step summed over combinations: "
        + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in step_totals.items())
    )
    if failed:
        raise typer.Exit(1)


@app.command("verify")
def verify_command(
    project_dir: Annotated[Path, typer.Argument(help="A project generated from the template.")],
    database_url: Annotated[
        str | None,
        typer.Option(help="Database for migrations and tests (default: the project's own)."),
    ] = None,
) -> None:
    """Install, lint, type-check, migrate and test one generated project."""

    def show(step: StepResult) -> None:
        mark = "[green]passed[/green]" if step.passed else "[red]failed[/red]"
        console.print(f"{step.name:<8} {mark} in {step.seconds:.1f}s")

    verification: Verification = verify(project_dir, database_url=database_url, on_step=show)
    if not verification.passed:
        console.print(verification.failure_report(), markup=False)
        raise typer.Exit(1)


def _split_drivers(values: list[str] | None) -> tuple[str, ...]:
    """Drivers from repeated and comma-separated `--drivers` values; all of them by default."""
    drivers = [d.strip() for value in values or [] for d in value.split(",") if d.strip()]
    for driver in drivers:
        _check_choice("database_driver", driver)
    return tuple(dict.fromkeys(drivers)) or matrix.choices("database_driver")


@app.command("bench")
def bench_command(
    drivers: Annotated[
        list[str] | None,
        typer.Option(
            help="Drivers to measure, repeatable or comma-separated (default: all five).",
            autocompletion=lambda: list(matrix.choices("database_driver")),
        ),
    ] = None,
    rows: Annotated[int, typer.Option(min=1, help="Users per bulk insert.")] = 10_000,
    posts: Annotated[int, typer.Option(min=1, help="Posts read per read.")] = 1_000,
    rounds: Annotated[
        int, typer.Option(min=1, help="Timed rounds of each side; the median is kept.")
    ] = 5,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file.")
    ] = None,
    with_matrix: Annotated[
        bool,
        typer.Option("--matrix", help="Also verify all combinations and time each step."),
    ] = False,
    jobs: Annotated[int, typer.Option(min=1, help="Parallel jobs for --matrix.")] = 2,
    workdir: Annotated[
        Path | None, typer.Option(help="Where to render projects (default: a temporary directory).")
    ] = None,
) -> None:
    """Measure the generated data layer against the raw driver, and rendering against Copier's
    floor; print a table and optionally write JSON."""
    options = bench.BenchOptions(
        drivers=_split_drivers(drivers),
        rows=rows,
        posts=posts,
        rounds=rounds,
        matrix=with_matrix,
        jobs=jobs,
    )
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sqla-bench-") as temporary:
        # A new directory each run, also inside --workdir: projects are rendered from scratch.
        root = (
            Path(tempfile.mkdtemp(prefix="sqla-bench-", dir=workdir))
            if workdir
            else Path(temporary)
        )
        try:
            report = bench.run_bench(
                options, root, progress=lambda line: console.print(f"[dim]{line}[/dim]")
            )
        except (bench.BenchError, ServerError) as error:
            console.print(str(error), markup=False)
            raise typer.Exit(1) from error
    console.print(bench.results_table(report))
    for line in bench.summary_lines(report):
        console.print(line, markup=False)
    if json_file is not None:
        json_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
