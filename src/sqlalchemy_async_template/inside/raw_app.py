"""The hand-written FastAPI app that `sqla-template bench --http` compares the generated one
with: the same routes answering with the same JSON, written straight on the raw driver.

What a careful developer would write by hand: a fixed pool of connections in autocommit mode
(reads run without a transaction, writes between `BEGIN` and `COMMIT`), the SQL of each route
written out, rows turned into dicts, and `JSONResponse`. Served by uvicorn with the generated
project's Python (`uvicorn raw_app:app`, this directory on the import path); its database is
the project's `DATABASE_URL`.
"""

# FastAPI exists only in the generated project's environment, as do the drivers.
# mypy: disable-error-code="import-not-found, untyped-decorator"

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from raw_drivers import RawDriver, connect_raw
from sqlalchemy.engine import make_url

POOL_SIZE = 10

POST_COLUMNS = (
    "p.id, p.title, p.content, p.version, p.created_at, p.updated_at,"
    " u.id, u.name, u.email, u.created_at, u.updated_at"
)
TAG_COLUMNS = "t.id, t.name, t.created_at, t.updated_at"


class Pool:
    """`POOL_SIZE` connections opened at start, lent one request at a time."""

    def __init__(self, connections: Sequence[RawDriver]) -> None:
        self.connections = list(connections)
        self.idle: asyncio.Queue[RawDriver] = asyncio.Queue()
        for connection in connections:
            self.idle.put_nowait(connection)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[RawDriver]:
        connection = await self.idle.get()
        try:
            yield connection
        finally:
            self.idle.put_nowait(connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[RawDriver]:
        async with self.connection() as connection:
            await connection.execute(BEGIN)
            try:
                yield connection
            except BaseException:
                await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")


URL = make_url(os.environ["DATABASE_URL"])
DRIVER = URL.get_driver_name()
DIALECT = URL.get_backend_name()
# SQLite: writers take the write lock when they begin, as the generated project's do.
BEGIN = "BEGIN IMMEDIATE" if DIALECT == "sqlite" else "BEGIN"
NOW = {
    "postgresql": "statement_timestamp()",
    "mysql": "UTC_TIMESTAMP(6)",
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f000', 'now')",
}[DIALECT]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    connections = []
    for _ in range(POOL_SIZE):
        connection = await connect_raw(DRIVER, URL, autocommit=True)
        if DIALECT == "postgresql":
            await connection.execute("SET TIME ZONE 'UTC'")
        connections.append(connection)
    app.state.pool = Pool(connections)
    yield
    for connection in connections:
        await connection.close()


app = FastAPI(lifespan=lifespan)


def pool_of(request: Request) -> Pool:
    pool: Pool = request.app.state.pool
    return pool


def timestamp(db: RawDriver, value: Any) -> str:
    """A timestamp as the generated app writes it: ISO 8601 in UTC, with a `Z`."""
    return db.timestamp(value).isoformat().replace("+00:00", "Z")


def post_of(db: RawDriver, row: Sequence[Any], tags: list[dict[str, Any]]) -> dict[str, Any]:
    post_id, title, content, _version, created, updated, *author = row
    user_id, name, email, user_created, user_updated = author
    return {
        "id": post_id,
        "title": title,
        "content": content,
        "created_at": timestamp(db, created),
        "updated_at": timestamp(db, updated),
        "author": {
            "id": user_id,
            "name": name,
            "email": email,
            "created_at": timestamp(db, user_created),
            "updated_at": timestamp(db, user_updated),
        },
        "tags": tags,
    }


def tag_of(db: RawDriver, row: Sequence[Any]) -> dict[str, Any]:
    tag_id, name, created, updated = row
    return {
        "id": tag_id,
        "name": name,
        "created_at": timestamp(db, created),
        "updated_at": timestamp(db, updated),
    }


async def one_post(db: RawDriver, post_id: int) -> tuple[dict[str, Any], int] | None:
    """The post with its author and tags, and its version; None if there is none."""
    rows = await db.fetch(
        db.sql(
            f"SELECT {POST_COLUMNS} FROM posts AS p JOIN users AS u ON u.id = p.author_id"
            " WHERE p.id = ?"
        ),
        [post_id],
    )
    if not rows:
        return None
    tags = await db.fetch(
        db.sql(
            f"SELECT {TAG_COLUMNS} FROM post_tags AS pt JOIN tags AS t ON t.id = pt.tag_id"
            " WHERE pt.post_id = ? ORDER BY t.name"
        ),
        [post_id],
    )
    return post_of(db, rows[0], [tag_of(db, tag) for tag in tags]), rows[0][3]


def with_etag(document: dict[str, Any], version: int, status_code: int = 200) -> JSONResponse:
    return JSONResponse(document, status_code, headers={"ETag": f'"{version}"'})


def not_found(what: str) -> JSONResponse:
    return JSONResponse({"detail": f"{what} not found"}, 404)


def cursor_after(post_id: int) -> str:
    document = json.dumps({"v": 1, "list": "posts", "after": [post_id]})
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/posts/{post_id}")
async def get_post(post_id: int, request: Request) -> JSONResponse:
    async with pool_of(request).connection() as db:
        found = await one_post(db, post_id)
    if found is None:
        return not_found("post")
    return with_etag(*found)


@app.get("/posts")
async def list_posts(request: Request, limit: int = 20, offset: int = 0) -> JSONResponse:
    async with pool_of(request).connection() as db:
        ((total,),) = await db.fetch("SELECT count(*) FROM posts")
        rows = await db.fetch(
            db.sql(
                f"SELECT {POST_COLUMNS} FROM posts AS p JOIN users AS u ON u.id = p.author_id"
                " ORDER BY p.id LIMIT ? OFFSET ?"
            ),
            [limit + 1, offset],
        )
        tag_rows = await db.fetch(
            db.sql(
                f"SELECT pt.post_id, {TAG_COLUMNS} FROM post_tags AS pt"
                " JOIN (SELECT id FROM posts ORDER BY id LIMIT ? OFFSET ?) AS w"
                " ON w.id = pt.post_id JOIN tags AS t ON t.id = pt.tag_id"
                " ORDER BY pt.post_id, t.name"
            ),
            [limit, offset],
        )
        tags: dict[int, list[dict[str, Any]]] = {row[0]: [] for row in rows[:limit]}
        for post_id, *tag in tag_rows:
            tags[post_id].append(tag_of(db, tag))
        items = [post_of(db, row, tags[row[0]]) for row in rows[:limit]]
    more = len(rows) > limit and items
    return JSONResponse(
        {
            "items": items,
            "limit": limit,
            "next_cursor": cursor_after(items[-1]["id"]) if more else None,
            "total": total,
            "offset": offset,
        }
    )


class PostCreate(BaseModel):
    author_id: int
    title: str
    content: str
    tags: list[str] = []


class PostUpdate(BaseModel):
    title: str | None = None
    content: str | None = None


def insert_tags(db: RawDriver, count: int) -> str:
    values = ", ".join(["(?)"] * count)
    if DIALECT == "mysql":
        return db.sql(
            f"INSERT INTO tags (name) VALUES {values} ON DUPLICATE KEY UPDATE name = name"
        )
    return db.sql(f"INSERT INTO tags (name) VALUES {values} ON CONFLICT (name) DO NOTHING")


@app.post("/posts", status_code=201)
async def create_post(body: PostCreate, request: Request) -> JSONResponse:
    async with pool_of(request).transaction() as db:
        authors = await db.fetch(
            db.sql("SELECT id, name, email, created_at, updated_at FROM users WHERE id = ?"),
            [body.author_id],
        )
        if not authors:
            return not_found("author")
        names = sorted(set(body.tags))
        tags: Sequence[Sequence[Any]] = []
        if names:
            await db.execute(insert_tags(db, len(names)), names)
            tags = await db.fetch(
                db.sql(
                    f"SELECT {TAG_COLUMNS} FROM tags AS t WHERE t.name IN"
                    f" ({', '.join(['?'] * len(names))}) ORDER BY t.name"
                ),
                names,
            )
        ((post_id, created, updated),) = await db.fetch(
            db.sql(
                "INSERT INTO posts (title, content, author_id, version) VALUES (?, ?, ?, 1)"
                " RETURNING id, created_at, updated_at"
            ),
            [body.title, body.content, body.author_id],
        )
        if tags:
            pairs = ", ".join(["(?, ?)"] * len(tags))
            links = [value for tag in tags for value in (post_id, tag[0])]
            await db.execute(
                db.sql(f"INSERT INTO post_tags (post_id, tag_id) VALUES {pairs}"), links
            )
        row = (post_id, body.title, body.content, 1, created, updated, *authors[0])
        return with_etag(post_of(db, row, [tag_of(db, tag) for tag in tags]), 1, 201)


@app.patch("/posts/{post_id}")
async def update_post(
    post_id: int,
    body: PostUpdate,
    request: Request,
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    async with pool_of(request).transaction() as db:
        found = await one_post(db, post_id)
        if found is None:
            return not_found("post")
        post, version = found
        if if_match not in (None, "*", f'"{version}"'):
            return JSONResponse({"detail": "If-Match names no current ETag"}, 412)
        title = post["title"] if body.title is None else body.title
        content = post["content"] if body.content is None else body.content
        update = db.sql(
            f"UPDATE posts SET title = ?, content = ?, version = ?, updated_at = {NOW}"
            " WHERE id = ? AND version = ?"
        )
        arguments = [title, content, version + 1, post_id, version]
        if DIALECT == "mysql":  # no UPDATE ... RETURNING
            await db.execute(update, arguments)
            changed = await db.fetch(
                db.sql("SELECT updated_at FROM posts WHERE id = ? AND version = ?"),
                [post_id, version + 1],
            )
        else:
            changed = await db.fetch(f"{update} RETURNING updated_at", arguments)
        if not changed:
            return JSONResponse({"detail": "another write came first"}, 412)
        post.update(title=title, content=content, updated_at=timestamp(db, changed[0][0]))
        return with_etag(post, version + 1)
