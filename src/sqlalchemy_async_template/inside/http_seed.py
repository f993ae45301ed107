"""The data `sqla-template bench --http` serves: posts by 100 authors, three tags each.

Runs with a generated project's Python, its database in `DATABASE_URL`, after its migrations:
empties the tables, adds the posts as the data-layer benchmark does, and prints the ids the
load generator asks for (every post's, in order, and the first author's) as one JSON line.
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import asyncio
import sys

import sqlalchemy as sa
from bench_probe import BenchedProject, add_posts
from generated_project import report


async def seed(package: str, posts: int) -> None:
    project = BenchedProject(package)
    try:
        await project.empty_tables()
        await add_posts(project, posts)
        models = project.models
        async with project.session_factory() as session:
            post_ids = list(await session.scalars(sa.select(models.Post.id).order_by("id")))
            author_id = await session.scalar(sa.select(sa.func.min(models.User.id)))
    finally:
        await project.close()
    report(post_ids=post_ids, author_id=author_id)


if __name__ == "__main__":
    asyncio.run(seed(sys.argv[1], int(sys.argv[2])))
