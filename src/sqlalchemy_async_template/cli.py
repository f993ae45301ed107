"""`sqla-template`: create projects from the template, verify them, and measure them."""

from __future__ import annotations

import inspect
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from . import bench, docs
from .bench.data_layer import DataLayerOptions
from .bench.http_report import errors_lines, http_charts, http_markdown, http_table
from .bench.report import charts, markdown, results_table, summary_lines
from .matrix import Combination, MatrixError, select, suite_slices
from .project import ANSWERS_FILE, Project
from .questions import Question, asked, choices, url_scheme_of
from .runner import run_matrix
from .servers import ServerError
from .template import locate
from .tools import MissingToolError
from .verify import STEP_NAMES, StepResult, VerifyError, verify

app = typer.Typer(
    help="Create async SQLAlchemy 2.1 projects from the template, verify and measure them.",
    no_args_is_help=True,
)
console = Console()
PERFORMANCE_SECTION = "bench"
DISTRIBUTION = "sqlalchemy-async-template"
HTTP_PERFORMANCE_SECTION = "bench-http"


KNOWN_FAILURES = (
    MissingToolError,
    ServerError,
    VerifyError,
    bench.BenchError,
    docs.MissingSectionError,
)


@contextmanager
def failing_clearly() -> Iterator[None]:
    """A failure the user can act on is one line and exit status 1, not a traceback."""
    try:
        yield
    except KNOWN_FAILURES as error:
        console.print(str(error), markup=False, soft_wrap=True)
        raise typer.Exit(1) from error


def _show_version(value: bool) -> None:
    if value:
        console.print(f"sqla-template {metadata.version(DISTRIBUTION)}", markup=False)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    # Options of `sqla-template` itself; its help is the app's.
    pass


# --- new ------------------------------------------------------------------------------------


def _answer_option(q: Question) -> inspect.Parameter:
    """A typed option for one question of copier.yml, None (Copier's default) when not given."""
    flag = q.name.replace("_", "-")
    shown = docs.default_text(q).replace("`", "")
    if q.type == "bool":
        shown = f"--{flag}" if q.default else f"--no-{flag}"
    # The option's own default is None ("not given"): help shows copier.yml's instead, in the
    # form Typer gives every other default (escaped, or Rich would read it as markup).
    help_text = f"{q.help} {escape(f'[default: {shown}]')}"
    option: Any
    if q.type == "bool":
        option = typer.Option(f"--{flag}/--no-{flag}", help=help_text, show_default=False)
        annotation: Any = bool | None
    elif q.choices:
        option = typer.Option(f"--{flag}", help=help_text, show_default=False)
        annotation = Literal[q.values] | None
    else:
        option = typer.Option(f"--{flag}", help=help_text, show_default=False)
        annotation = str | None
    return inspect.Parameter(
        q.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[annotation, option],
    )


def _new(destination: Path, **answers: Any) -> None:
    given = {name: value for name, value in answers.items() if value is not None}
    if destination.is_dir() and any(destination.iterdir()):
        _refuse(f"{destination} is not empty: give `new` a directory that is new or empty.")
    if destination.exists() and not destination.is_dir():
        _refuse(f"{destination} is a file: give `new` a directory that is new or empty.")
    source = locate()
    try:
        with failing_clearly():
            Project.render(destination, given, source=source, quiet=False)
    except ValueError as error:  # an answer refused by a copier.yml validator
        message = " ".join(str(error).split())
        if "question 'package_name'" in message and "package_name" not in given:
            message += (
                " (The package name comes from the directory's name: choose another with "
                "--package-name.)"
            )
        _refuse(message)
    if source.revision is None:
        console.print(
            "Rendered from the copy of the template bundled with sqla-template. "
            "`copier update` needs a git source: install sqla-template from a checkout or "
            "a git URL to keep projects updatable."
        )


def _refuse(message: str) -> NoReturn:
    """A refused input: one line, exit status 2, nothing written."""
    console.print(message, style="red", markup=False, soft_wrap=True)
    raise typer.Exit(2)


def _new_command() -> Callable[..., None]:
    """`new`, with one option per question of copier.yml."""

    def new(**arguments: Any) -> None:
        """Create a project: `copier copy --defaults`, with an option for every question.

        An answer left out takes copier.yml's default."""
        _new(**arguments)

    destination = inspect.Parameter(
        "destination",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[Path, typer.Argument(help="Directory of the new project.")],
    )
    parameters = [destination, *(_answer_option(q) for q in asked())]
    new.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    new.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return new


app.command("new")(_new_command())


# --- matrix and verify ----------------------------------------------------------------------


def _status_table(
    combinations: list[Combination], results: dict[Combination, dict[str, StepResult]]
) -> Table:
    table = Table(title="Template matrix")
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
        combinations = select(only or [])
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

            with failing_clearly():
                outcome = run_matrix(combinations, root, jobs=jobs, on_step=on_step)
    console.print()
    for combination in outcome.failed:
        console.rule(f"[red]{combination.slug}")
        console.print(outcome.verifications[combination].failure_report(), markup=False)
    console.print(
        f"{len(combinations) - len(outcome.failed)} passed, {len(outcome.failed)} failed "
        f"in {outcome.wall_seconds:.0f}s wall time; time per step summed over combinations: "
        + ", ".join(f"{name} {s:.0f}s" for name, s in outcome.seconds_per_step().items())
    )
    if outcome.failed:
        raise typer.Exit(1)


@app.command("ci-matrix")
def ci_matrix_command() -> None:
    """Print the matrix of the template's own CI, as one line of JSON.

    A slice of the test suite per database driver of copier.yml (pytest `-k` keywords), and
    one for the rest."""
    include = [{"slice": part.name, "keywords": part.keywords} for part in suite_slices()]
    print(json.dumps({"include": include}))


@app.command("verify")
def verify_command(
    project_dir: Annotated[
        Path,
        typer.Argument(help="A project generated from the template.", exists=True, file_okay=False),
    ],
    database_url: Annotated[
        str | None,
        typer.Option(
            help="An empty database for migrations and tests (default: a throw-away one, "
            "never the project's own)."
        ),
    ] = None,
) -> None:
    """Install, lint, type-check, migrate and test one generated project.

    Migrations run down again and the tests delete rows, so the project's own database is
    never used: verify creates a throw-away database (a temporary SQLite file, or a new
    database next to the configured one, on the same server) and drops it afterwards.
    """
    if not (project_dir / ANSWERS_FILE).is_file():
        raise typer.BadParameter(
            f"{project_dir} is not a project generated from the template (no {ANSWERS_FILE})",
            param_hint="PROJECT_DIR",
        )

    project = Project(project_dir, database_url)
    scheme = url_scheme_of(project.driver)
    if database_url is not None and not database_url.startswith(f"{scheme}://"):
        given, separator, _ = database_url.partition("://")
        raise typer.BadParameter(
            f"Pass a {scheme}://... URL, for this project's {project.driver} "
            + (f"(not {given}://)" if separator else "(this is no URL)"),
            param_hint="'--database-url'",
        )

    def show(step: StepResult) -> None:
        mark = "[green]passed[/green]" if step.passed else "[red]failed[/red]"
        console.print(f"{step.name:<8} {mark} in {step.seconds:.1f}s")

    with failing_clearly():
        verification = verify(project, on_step=show, only_empty=True)
    if not verification.passed:
        console.print(verification.failure_report(), markup=False)
        raise typer.Exit(1)


# --- bench ----------------------------------------------------------------------------------

BENCH_DEFAULTS = DataLayerOptions()
HTTP_DEFAULTS = bench.HttpOptions()


def _split_drivers(values: list[str] | None) -> tuple[str, ...]:
    """Drivers from repeated and comma-separated `--drivers` values; all of them by default."""
    drivers = [d.strip() for value in values or [] for d in value.split(",") if d.strip()]
    for driver in drivers:
        if driver not in choices("database_driver"):
            raise typer.BadParameter(
                f"{driver!r} is not one of {', '.join(choices('database_driver'))}",
                param_hint="--drivers",
            )
    return tuple(dict.fromkeys(drivers)) or choices("database_driver")


def _depths(value: str) -> tuple[int, ...]:
    try:
        depths = tuple(sorted({int(depth) for depth in value.split(",")}))
    except ValueError:
        depths = ()
    if len(depths) < 2 or depths[0] != 0:
        raise typer.BadParameter(
            f"{value!r}: give 0 and at least one deeper page, e.g. 0,1000,100000",
            param_hint="--depths",
        )
    return depths


@app.command("bench")
def bench_command(
    drivers: Annotated[
        list[str] | None,
        typer.Option(
            help="Drivers to measure, repeatable or comma-separated (default: all five).",
            autocompletion=lambda: list(choices("database_driver")),
        ),
    ] = None,
    rows: Annotated[int, typer.Option(min=1, help="Users per bulk insert.")] = BENCH_DEFAULTS.rows,
    posts: Annotated[
        int, typer.Option(min=1, help="Posts read per read (with --http: posts served).")
    ] = BENCH_DEFAULTS.posts,
    rounds: Annotated[
        int, typer.Option(min=1, help="Timed rounds of each side; the median is kept.")
    ] = BENCH_DEFAULTS.rounds,
    depths: Annotated[
        str,
        typer.Option(help="Rows before the pages read by keyset and OFFSET, comma-separated."),
    ] = ",".join(map(str, BENCH_DEFAULTS.depths)),
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file.")
    ] = None,
    markdown_file: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            help="Write the figures into this Markdown file (e.g. docs/performance.md), between "
            f"its <!-- {PERFORMANCE_SECTION}:start --> and <!-- {PERFORMANCE_SECTION}:end --> "
            "lines.",
        ),
    ] = None,
    with_matrix: Annotated[
        bool,
        typer.Option("--matrix", help="Also verify all combinations and time each step."),
    ] = False,
    suite: Annotated[
        bool,
        typer.Option(
            "--suite", help="Also time a generated project's tests without workers and with -n 2."
        ),
    ] = False,
    jobs: Annotated[int, typer.Option(min=1, help="Parallel jobs for --matrix.")] = 2,
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Instead, serve the generated FastAPI service and a hand-written app on the raw "
            "driver with uvicorn and drive both with wrk; Markdown goes between the "
            f"{HTTP_PERFORMANCE_SECTION} markers.",
        ),
    ] = False,
    seconds: Annotated[
        int, typer.Option(min=1, help="With --http: seconds of each side's run of a route.")
    ] = HTTP_DEFAULTS.seconds,
    connections: Annotated[
        int, typer.Option(min=1, help="With --http: connections wrk keeps open.")
    ] = HTTP_DEFAULTS.connections,
) -> None:
    """Measure the generated data layer against the raw driver, side by side.

    Rendering is measured against Copier's floor too. Prints a table, and optionally writes
    JSON and Markdown."""
    section = HTTP_PERFORMANCE_SECTION if http else PERFORMANCE_SECTION
    if markdown_file is not None and markdown_file.exists():
        with failing_clearly():  # before measuring: the figures need a place to go
            docs.marked_section(markdown_file.read_text(encoding="utf-8"), section)
    if http:
        http_options = bench.HttpOptions(
            posts=posts, rounds=rounds, seconds=seconds, connections=connections
        )
        _bench_http(_split_drivers(drivers), http_options, json_file, markdown_file)
        return
    options = bench.BenchOptions(
        drivers=_split_drivers(drivers),
        data_layer=DataLayerOptions(rows=rows, posts=posts, rounds=rounds, depths=_depths(depths)),
        matrix=with_matrix,
        suite=suite,
        jobs=jobs,
    )
    with tempfile.TemporaryDirectory(prefix="sqla-bench-") as workdir, failing_clearly():
        report = bench.run_bench(
            options, Path(workdir), progress=lambda line: console.print(f"[dim]{line}[/dim]")
        )
    console.print(results_table(report))
    _publish(
        report,
        summary_lines(report),
        json_file,
        markdown_file,
        (PERFORMANCE_SECTION, markdown, charts),
    )


def _bench_http(
    drivers: tuple[str, ...],
    options: bench.HttpOptions,
    json_file: Path | None,
    markdown_file: Path | None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="sqla-bench-") as workdir, failing_clearly():
        bench.wrk_executable()  # before rendering anything
        report = bench.run_http_bench(
            drivers,
            options,
            Path(workdir),
            progress=lambda line: console.print(f"[dim]{line}[/dim]"),
        )
    console.print(http_table(report))
    _publish(
        report,
        errors_lines(report),
        json_file,
        markdown_file,
        (HTTP_PERFORMANCE_SECTION, http_markdown, http_charts),
    )


def _publish(
    report: dict[str, Any],
    lines: list[str],
    json_file: Path | None,
    markdown_file: Path | None,
    page: tuple[str, Callable[[dict[str, Any]], str], Callable[[dict[str, Any]], dict[str, str]]],
) -> None:
    """Print a report's closing lines; write it as JSON, and into its section of the Markdown
    page (`page`: the section, the Markdown and the charts drawn from the report) with the
    charts beside the page, where asked."""
    for line in lines:
        console.print(line, markup=False)
    if json_file is not None:
        json_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if markdown_file is not None:
        section, text, pictures = page
        with failing_clearly():
            docs.write_section(markdown_file, section, text(report))
        for name, picture in pictures(report).items():
            (markdown_file.parent / name).write_text(picture, encoding="utf-8")
