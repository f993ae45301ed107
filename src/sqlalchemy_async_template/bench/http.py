"""`sqla-template bench --http`: the generated FastAPI service against a hand-written FastAPI
app on the raw driver, over HTTP, for one driver.

Both apps run with the generated project's Python, each served by uvicorn with one worker,
against one database filled by `inside/http_seed.py`; the hand-written one is
`inside/raw_app.py`. Before measuring, each read route's JSON is compared between the two:
the comparison is only fair if they answer alike. wrk (a load generator written in C, so the
client does not compete with the servers for Python's GIL) then drives each route, the two
sides taking turns round by round, the side that goes first alternating.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..databases import Databases
from ..matrix import Combination
from ..project import INSIDE, Project
from ..servers.process import free_port
from .data_layer import check_completed
from .errors import BenchError
from .projects import installed_project

SEED = INSIDE / "http_seed.py"
SIDES = ("generated", "raw")
START_TIMEOUT_SECONDS = 60
WARM_UP_SECONDS = 1  # each run of the untimed first round
PATCHED_POSTS = 200  # the posts a PATCH round edits in turn, each with its current ETag


@dataclass(frozen=True)
class HttpOptions:
    posts: int = 1_000
    rounds: int = 3
    seconds: int = 5  # each side's run of one route in one round (wrk takes whole seconds)
    connections: int = 32


@dataclass(frozen=True)
class Route:
    """One measurement: what wrk sends (`path`, and Lua that sets the rest up)."""

    name: str
    title: str
    path: str
    setup: str = ""

    @property
    def script(self) -> str:
        return f"wrk.path = {_lua_string(self.path)}\n{self.setup}"


# wrk calls `done` once at the end: print what it measured as one JSON line.
DONE = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "microseconds": %d, "p50_us": %d, "p99_us": %d, "status_errors": %d,'
    .. ' "socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for ASCII text


def routes(post_ids: list[int], author_id: int) -> list[Route]:
    """The five routes measured: one post, a page of 20, a page of 100, a create, a PATCH."""
    middle = post_ids[len(post_ids) // 2]
    offset = min(500, max(len(post_ids) - 100, 0))
    body = json.dumps(
        {
            "author_id": author_id,
            "title": "A new post",
            "content": "Text " * 20,
            "tags": ["tag01", "tag02", "tag03"],
        }
    )
    create = (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {_lua_string(body)}\n"
    )
    return [
        Route("one_post", f"GET /posts/{middle}", f"/posts/{middle}"),
        Route("page_20", "GET /posts?limit=20", "/posts?limit=20"),
        Route(
            "page_100", f"GET /posts?limit=100&offset={offset}", f"/posts?limit=100&offset={offset}"
        ),
        Route("create", "POST /posts", "/posts", create),
        # Its script needs the current ETags: `patch_script`.
        Route("patch", "PATCH /posts/{id} with If-Match", "/posts"),
    ]


def patch_script(etags: dict[int, str]) -> str:
    """PATCH the posts in turn, each with `If-Match` naming its current ETag, learning the new
    ETag from each response."""
    table = ", ".join(f"[{post_id}] = {_lua_string(tag)}" for post_id, tag in etags.items())
    ids = ", ".join(map(str, etags))
    return f"""
local ids = {{{ids}}}
local etags = {{{table}}}
local next_index = 0
local body = '{{"title": "An edited title"}}'
request = function()
  next_index = next_index % #ids + 1
  local id = ids[next_index]
  return wrk.format("PATCH", "/posts/" .. id,
    {{["Content-Type"] = "application/json", ["If-Match"] = etags[id]}}, body)
end
response = function(status, headers, body)
  local id = tonumber(string.match(body, '"id":%s*(%d+)'))
  local etag = headers["etag"] or headers["ETag"]
  if id and etag then etags[id] = etag end
end
"""


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[str]
    base_url: str
    log: Path

    def get(self, path: str) -> tuple[int, dict[str, str], Any]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=30) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")


@contextmanager
def served(project: Project, target: str, name: str) -> Iterator[Served]:
    """`uvicorn target` with the project's Python, one worker, until the block ends."""
    port = free_port()
    log = project.path / f"uvicorn-{name}.log"
    argv = ["uvicorn", target, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("w") as output:
        process = project.start(
            argv,
            settings={"PYTHONPATH": str(INSIDE)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    app = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_healthy(app)
        yield app
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(app: Served) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise BenchError(f"uvicorn exited while starting:\n{app.log.read_text()}")
        try:
            if app.get("/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(
        f"/health did not answer within {START_TIMEOUT_SECONDS} s:\n{app.log.read_text()}"
    )


def wrk_executable() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise BenchError(
            "bench --http needs wrk, the HTTP load generator: run scripts/install-system-deps "
            "(or apt-get install wrk)"
        )
    return found


def run_wrk(
    app: Served, script: str, seconds: int, connections: int, workdir: Path, *, timed: bool = True
) -> dict[str, Any]:
    """One run of wrk against `app`: successful requests per second, p50 and p99, errors. A
    timed run in which no request succeeded stops the benchmark: it would measure nothing."""
    lua = workdir / "wrk.lua"
    lua.write_text(script + DONE, encoding="utf-8")
    duration = f"{max(seconds, 1)}s"
    command = [wrk_executable(), "-t1", f"-c{connections}", f"-d{duration}", "--timeout", "30s"]
    completed = subprocess.run(
        [*command, "-s", str(lua), app.base_url],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    measured = next(
        (json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")), None
    )
    if completed.returncode != 0 or measured is None:
        raise BenchError(
            f"wrk failed (exit {completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )
    successful = measured["requests"] - measured["status_errors"]
    if successful == 0 and (measured["status_errors"] or timed):
        raise BenchError(
            f"no request of {app.base_url} succeeded in {seconds} s ({measured}): give more "
            f"--seconds if none failed; the server's log:\n"
            f"{app.log.read_text(encoding='utf-8', errors='replace')[-3000:]}"
        )
    return {
        "requests_per_second": successful / (measured["microseconds"] / 1e6),
        "p50_ms": measured["p50_us"] / 1000,
        "p99_ms": measured["p99_us"] / 1000,
        "requests": measured["requests"],
        "errors": measured["status_errors"] + measured["socket_errors"],
    }


def current_etags(app: Served, post_ids: list[int]) -> dict[int, str]:
    etags = {}
    for post_id in post_ids:
        status, headers, _ = app.get(f"/posts/{post_id}")
        if status != 200:
            raise BenchError(f"GET /posts/{post_id} answered {status} before a PATCH round")
        etags[post_id] = next(value for name, value in headers.items() if name.lower() == "etag")
    return etags


def compare_answers(apps: dict[str, Served], checked: list[Route]) -> None:
    """Both apps answer each read route with the same status and the same JSON."""
    for route in checked:
        answers = {side: app.get(route.path)[::2] for side, app in apps.items()}
        if answers["generated"] != answers["raw"]:
            raise BenchError(
                f"{route.title}: the two apps answer differently, so comparing them is unfair:\n"
                f"generated: {json.dumps(answers['generated'])[:2000]}\n"
                f"hand-written: {json.dumps(answers['raw'])[:2000]}"
            )


def summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each side's medians over the rounds, and the ratios taken round by round."""
    ratios = [
        generated["requests_per_second"] / raw["requests_per_second"]
        for generated, raw in zip(runs["generated"], runs["raw"], strict=True)
    ]
    p99_ratios = [
        generated["p99_ms"] / raw["p99_ms"]
        for generated, raw in zip(runs["generated"], runs["raw"], strict=True)
    ]
    low, _, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    sides = {
        side: {
            "requests_per_second": round(
                statistics.median(r["requests_per_second"] for r in side_runs), 1
            ),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in side_runs), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in side_runs), 2),
            "requests": sum(r["requests"] for r in side_runs),
            "errors": sum(r["errors"] for r in side_runs),
        }
        for side, side_runs in runs.items()
    }
    return {
        **sides,
        "ratio": round(statistics.median(ratios), 3),
        "ratio_quartiles": [round(low, 3), round(high, 3)],
        "p99_ratio": round(statistics.median(p99_ratios), 3),
    }


def bench_http(
    driver: str, workdir: Path, databases: Databases, options: HttpOptions
) -> dict[str, Any]:
    """Render a FastAPI project for `driver`, fill its database, serve it and the hand-written
    app, and drive both with wrk: a summary per route."""
    combination = Combination(driver, "annotated", "fastapi")
    project = installed_project(combination, workdir, databases)
    if project.database_url is None:  # SQLite: a file of the project's own
        project = project.with_database(f"sqlite+aiosqlite:///{project.path / 'bench.db'}")
    check_completed(project, project.run(["alembic", "upgrade", "head"]), "alembic upgrade head")
    seeded = json.loads(
        check_completed(
            project, project.run_script(SEED, project.package, str(options.posts)), "seeding"
        )
    )
    measured = routes(seeded["post_ids"], seeded["author_id"])
    with ExitStack() as stack:
        apps = {
            "generated": stack.enter_context(
                served(project, f"{project.package}.api:app", "generated")
            ),
            "raw": stack.enter_context(served(project, "raw_app:app", "raw")),
        }
        compare_answers(
            apps, [route for route in measured if route.name.startswith(("one", "page"))]
        )
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            route.name: {side: [] for side in SIDES} for route in measured
        }
        patched = seeded["post_ids"][:PATCHED_POSTS]
        for round_number in range(options.rounds + 1):
            warm_up = round_number == 0
            order = SIDES if round_number % 2 else tuple(reversed(SIDES))
            for route in measured:
                for side in order:
                    script = route.script
                    if route.name == "patch":
                        script = patch_script(current_etags(apps[side], patched))
                    seconds = WARM_UP_SECONDS if warm_up else options.seconds
                    result = run_wrk(
                        apps[side], script, seconds, options.connections, workdir, timed=not warm_up
                    )
                    if not warm_up:
                        runs[route.name][side].append(result)
    return {
        "combination": combination.slug,
        "posts": options.posts,
        "routes": {
            route.name: {"title": route.title, **summary(runs[route.name])} for route in measured
        },
    }
