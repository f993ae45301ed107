"""The half of `sqla-template bench` that runs inside a generated project's virtual environment.

The benchmark runs this file with the project's own Python, its database in `DATABASE_URL`:
it imports the project's repositories, its examples and the raw driver, times them side by side
in one process and one event loop, in interleaved rounds (generated, raw, generated, raw, ...),
and prints one JSON object on standard output. SQLAlchemy, the driver and the project's package are
imported at run time: they exist only in the project's environment.
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import sqlalchemy as sa
from generated_project import GeneratedProject, report
from raw_drivers import RawDriver, connect_raw

TAGS_PER_POST = 3
AUTHORS = 100
TAGS = 20
PAGE = 20  # rows per page of the depth measurement
DEPTH_BATCH = 10_000  # users per bulk insert while filling the depth measurement's table


# --- Timing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Seconds of the generated code and of the raw driver doing the same work, round by
    round. The ratio is taken within each round (raw / generated, 1.0 = as fast), where both
    sides met the same state of a noisy machine, and its median kept; the quartiles of those
    ratios say how steady it was."""

    generated: list[float]
    raw: list[float]

    @property
    def ratios(self) -> list[float]:
        return [raw / generated for generated, raw in zip(self.generated, self.raw, strict=True)]

    def as_json(self) -> dict[str, Any]:
        ratios = self.ratios
        low, _, high = (
            statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
        )
        return {
            "generated_seconds": round(statistics.median(self.generated), 6),
            "raw_seconds": round(statistics.median(self.raw), 6),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_quartiles": [round(low, 3), round(high, 3)],
        }


async def interleaved(
    generated: Callable[[], Awaitable[object]],
    raw: Callable[[], Awaitable[object]],
    *,
    rounds: int,
    reset: Callable[[], Awaitable[None]] | None = None,
) -> Comparison:
    """Run both sides in each of `rounds` rounds, after one untimed warm-up round; the side
    that goes first alternates, so neither always finds the machine (or the database's caches)
    as the other left them. `reset` (untimed) runs before every run."""
    sides = {"generated": generated, "raw": raw}
    timings: dict[str, list[float]] = {"generated": [], "raw": []}
    for round_number in range(rounds + 1):
        order = ("generated", "raw") if round_number % 2 else ("raw", "generated")
        for side in order:
            if reset is not None:
                await reset()
            gc.collect()  # each run starts from a clean heap, not with the other side's garbage
            started = time.perf_counter()
            await sides[side]()
            elapsed = time.perf_counter() - started
            if round_number > 0:
                timings[side].append(elapsed)
    return Comparison(timings["generated"], timings["raw"])


# --- The benchmark --------------------------------------------------------------------------


class BenchedProject(GeneratedProject):
    """The generated project, with the untimed chores of the benchmark."""

    async def empty_tables(self) -> None:
        text = sa.text
        async with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # No dead rows left behind for the next round's inserts to step over.
                await connection.execute(text("TRUNCATE post_tags, posts, tags, users"))
                return
            for table in ("post_tags", "posts", "tags", "users"):
                await connection.execute(text(f"DELETE FROM {table}"))


async def bench_bulk_insert(
    project: BenchedProject, raw: RawDriver, rows: int, rounds: int
) -> Comparison:
    """`add_users` of `examples/bulk_load.py` against the driver's executemany, `rows` users
    each, each in its own committed transaction."""
    add_users = project.example("bulk_load").add_users
    users = [{"name": f"User {i}", "email": f"user{i}@example.com"} for i in range(rows)]
    values = [(user["name"], user["email"]) for user in users]
    insert_sql = f"INSERT INTO users (name, email) VALUES ({raw.placeholders(2)})"

    async def generated() -> None:
        async with project.session_factory.begin() as session:
            await add_users(session, users)

    async def raw_insert() -> None:
        await raw.insert_many(insert_sql, values)

    return await interleaved(generated, raw_insert, rounds=rounds, reset=project.empty_tables)


async def add_posts(project: BenchedProject, posts: int) -> None:
    """`posts` posts by 100 authors, each post with three of 20 tags (untimed set-up)."""
    models = project.models
    async with project.session_factory.begin() as session:
        await project.example("bulk_load").add_users(
            session,
            ({"name": f"Author {i}", "email": f"author{i}@example.com"} for i in range(AUTHORS)),
        )
        await session.execute(sa.insert(models.Tag), [{"name": f"tag{i:02}"} for i in range(TAGS)])
        author_ids = list(await session.scalars(sa.select(models.User.id).order_by("id")))
        tag_ids = list(await session.scalars(sa.select(models.Tag.id).order_by("id")))
        await session.execute(
            sa.insert(models.Post),
            [
                {"title": f"Post {i}", "content": "...", "author_id": author_ids[i % AUTHORS]}
                for i in range(posts)
            ],
        )
        post_ids = list(await session.scalars(sa.select(models.Post.id).order_by("id")))
        await session.execute(
            sa.insert(models.post_tags),
            [
                {"post_id": post_id, "tag_id": tag_ids[(index + offset) % TAGS]}
                for index, post_id in enumerate(post_ids)
                for offset in range(TAGS_PER_POST)
            ],
        )


def window(raw: RawDriver) -> str:
    """The first `limit` posts as a derived table, as `post_summaries` selects them."""
    return f"(SELECT id FROM posts ORDER BY id LIMIT {raw.placeholders(1)}) AS w"


async def raw_post_summaries(raw: RawDriver, limit: int) -> list[dict[str, Any]]:
    """What `examples/read_model.py`'s `post_summaries` returns, as plain dicts, from the same
    two queries."""
    await raw.begin()
    try:
        rows = await raw.fetch(
            f"SELECT p.id, p.title, p.created_at, u.name FROM posts AS p JOIN {window(raw)}"
            " ON w.id = p.id JOIN users AS u ON u.id = p.author_id ORDER BY p.id",
            [limit],
        )
        posts = {
            post_id: {
                "id": post_id,
                "title": title,
                "created_at": raw.timestamp(created),
                "author_name": author_name,
                "tags": [],
            }
            for post_id, title, created, author_name in rows
        }
        for post_id, name in await raw.fetch(
            f"SELECT pt.post_id, t.name FROM post_tags AS pt JOIN {window(raw)}"
            " ON w.id = pt.post_id JOIN tags AS t ON t.id = pt.tag_id"
            " ORDER BY pt.post_id, t.name",
            [limit],
        ):
            posts[post_id]["tags"].append(name)
        return list(posts.values())
    finally:
        await raw.end()


async def raw_post_page(raw: RawDriver, limit: int) -> list[dict[str, Any]]:
    """What `PostRepository.page` loads (every column of the posts, their authors and their
    tags), as nested plain dicts, from three queries like its own."""
    await raw.begin()
    try:
        await raw.fetch("SELECT count(*) FROM posts")
        rows = await raw.fetch(
            "SELECT p.id, p.title, p.content, p.author_id, p.version, p.created_at,"
            " p.updated_at, u.id, u.name, u.email, u.created_at, u.updated_at FROM posts AS p"
            " JOIN users AS u ON u.id = p.author_id"
            f" ORDER BY p.id LIMIT {raw.placeholders(1)}",
            [limit],
        )
        posts = {}
        for post_id, title, content, author_id, version, created, updated, *author in rows:
            user_id, name, email, user_created, user_updated = author
            posts[post_id] = {
                "id": post_id,
                "title": title,
                "content": content,
                "author_id": author_id,
                "version": version,
                "created_at": raw.timestamp(created),
                "updated_at": raw.timestamp(updated),
                "author": {
                    "id": user_id,
                    "name": name,
                    "email": email,
                    "created_at": raw.timestamp(user_created),
                    "updated_at": raw.timestamp(user_updated),
                },
                "tags": [],
            }
        for post_id, tag_id, name, tag_created, tag_updated in await raw.fetch(
            "SELECT pt.post_id, t.id, t.name, t.created_at, t.updated_at FROM post_tags AS pt"
            f" JOIN {window(raw)} ON w.id = pt.post_id JOIN tags AS t ON t.id = pt.tag_id"
            " ORDER BY pt.post_id, t.name",
            [limit],
        ):
            posts[post_id]["tags"].append(
                {
                    "id": tag_id,
                    "name": name,
                    "created_at": raw.timestamp(tag_created),
                    "updated_at": raw.timestamp(tag_updated),
                }
            )
        return list(posts.values())
    finally:
        await raw.end()


async def bench_reads(
    project: BenchedProject, raw: RawDriver, posts: int, rounds: int
) -> dict[str, Comparison]:
    """Both read paths of posts (typed rows of `examples/read_model.py`, ORM objects of
    `PostRepository`) against the raw driver."""
    repository = project.repositories.PostRepository
    post_summaries = project.example("read_model").post_summaries

    async def summaries() -> None:
        async with project.session_factory() as session:
            await post_summaries(session, limit=posts)

    async def page() -> None:
        async with project.session_factory() as session:
            await repository(session).page(limit=posts)

    return {
        "read": await interleaved(summaries, lambda: raw_post_summaries(raw, posts), rounds=rounds),
        "read_orm": await interleaved(page, lambda: raw_post_page(raw, posts), rounds=rounds),
    }


async def statements_sent(project: BenchedProject, run: Callable[[Any], Awaitable[object]]) -> int:
    """How many SQL statements `run(session)` sends (the transaction's own BEGIN left out)."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event, engine = sa.event, project.engine.sync_engine
    async with project.session_factory() as session:
        await session.connection()
        event.listen(engine, "before_cursor_execute", record)
        try:
            await run(session)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    return len(statements)


async def count_statements(
    project: BenchedProject, list_posts: Callable[..., Awaitable[object]], sizes: Sequence[int]
) -> dict[str, int]:
    """Statements `list_posts(session, limit=n)` sends, for each page size n."""

    return {
        str(size): await statements_sent(project, functools.partial(list_posts, limit=size))
        for size in sizes
    }


async def bench_depth(
    project: BenchedProject, depths: Sequence[int], rounds: int
) -> dict[str, Any]:
    """One page of users (PAGE rows) at each depth, read after a cursor (`page_after`) and by
    OFFSET (`page`), in interleaved rounds; each method's time at its deepest page over its
    time at the first, taken round by round."""
    users = project.repositories.UserRepository
    add_users = project.example("bulk_load").add_users
    deepest = max(depths)
    for start in range(0, deepest + PAGE, DEPTH_BATCH):
        async with project.session_factory.begin() as session:
            await add_users(
                session,
                (
                    {"name": f"User {i}", "email": f"user{i}@example.com"}
                    for i in range(start, min(start + DEPTH_BATCH, deepest + PAGE))
                ),
            )
    cursors = {depth: await cursor_at(project, depth) for depth in depths}

    async def read(method: str, depth: int) -> None:
        async with project.session_factory() as session:
            repository = users(session)
            if method == "keyset":
                page = await repository.page_after(cursors[depth], limit=PAGE)
            else:
                page = await repository.page(offset=depth, limit=PAGE)
        assert len(page.items) == PAGE, (method, depth, len(page.items))

    timings: dict[str, dict[int, list[float]]] = {
        method: {depth: [] for depth in depths} for method in ("keyset", "offset")
    }
    for round_number in range(rounds + 1):
        for depth in depths if round_number % 2 else reversed(depths):
            for method in timings:
                gc.collect()
                started = time.perf_counter()
                await read(method, depth)
                if round_number > 0:
                    timings[method][depth].append(time.perf_counter() - started)
    return {
        method: {
            "milliseconds": {
                str(depth): round(statistics.median(seconds) * 1000, 3)
                for depth, seconds in by_depth.items()
            },
            "depth_ratio": round(
                statistics.median(
                    deep / first
                    for deep, first in zip(by_depth[deepest], by_depth[min(depths)], strict=True)
                ),
                3,
            ),
        }
        for method, by_depth in timings.items()
    }


async def cursor_at(project: BenchedProject, depth: int) -> str | None:
    """The cursor after the first `depth` users: where the page at that depth begins."""
    if depth == 0:
        return None
    user = project.models.User
    async with project.session_factory() as session:
        last = await session.scalar(sa.select(user.id).order_by(user.id).offset(depth - 1))
    cursor: str = project.module("pagination").encode_cursor("users", (last,))
    return cursor


async def bench(arguments: argparse.Namespace) -> dict[str, Any]:
    project = BenchedProject(arguments.package)
    url = project.engine.url
    raw = await connect_raw(url.get_driver_name(), url)
    try:
        bulk = await bench_bulk_insert(project, raw, arguments.rows, arguments.rounds)
        await project.empty_tables()
        await add_posts(project, arguments.posts)
        reads = await bench_reads(project, raw, arguments.posts, arguments.rounds)
        posts = project.repositories.PostRepository
        statements = await count_statements(
            project, lambda session, limit: posts(session).page(limit=limit), arguments.sizes
        )
        statements_read_model = await count_statements(
            project, project.example("read_model").post_summaries, arguments.sizes
        )
        await project.empty_tables()
        depth = await bench_depth(project, arguments.depths, arguments.rounds)
        measured_versions = await versions(project)
    finally:
        await raw.close()
        await project.close()
    return {
        "driver": url.get_driver_name(),
        "versions": measured_versions,
        "rows": arguments.rows,
        "posts": arguments.posts,
        "rounds": arguments.rounds,
        # rows/s of the generated code over rows/s of the raw driver: the same ratio of times.
        "bulk_insert": bulk.as_json(),
        **{name: comparison.as_json() for name, comparison in reads.items()},
        "statements": statements,
        "statements_read_model": statements_read_model,
        "depth": depth,
        "depth_page_rows": PAGE,
    }


async def versions(project: BenchedProject) -> dict[str, str]:
    """The versions measured: SQLAlchemy, the driver and the database server."""
    driver = project.engine.url.get_driver_name()
    async with project.engine.connect() as connection:
        server = connection.dialect.server_version_info or ()
    return {
        "sqlalchemy": metadata.version("sqlalchemy"),
        driver: metadata.version(driver),
        "server": ".".join(map(str, server)),
    }


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("package", help="the generated project's package")
    # Every option is given by `bench/data_layer.py`, which holds the defaults.
    parser.add_argument("--rows", type=int, required=True, help="users per bulk insert")
    parser.add_argument("--posts", type=int, required=True, help="posts read per read")
    parser.add_argument("--rounds", type=int, required=True, help="timed rounds of each side")
    parser.add_argument("--sizes", type=int, nargs="+", required=True, help="page sizes to count")
    parser.add_argument(
        "--depths",
        type=int,
        nargs="+",
        required=True,
        help="rows before the pages read by keyset and by OFFSET",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    report(**asyncio.run(bench(arguments)))


if __name__ == "__main__":
    main()
