"""Request dependencies: the database session of a request."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


def get_session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    """The application's session factory, created by the app's lifespan."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    return factory


async def get_session(
    session_factory: Annotated[async_sessionmaker[AsyncSession], Depends(get_session_factory)],
) -> AsyncIterator[AsyncSession]:
    """A session in a transaction for one request: committed when the endpoint returns,
    rolled back when it raises."""
    async with session_factory.begin() as session:
        yield session


# scope="function" ends the dependency, and so commits, before the response is sent: a
# commit that fails becomes a 500, never a 2xx for data that was not stored. (With the
# default scope the commit would run after the client already got its success response.)
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
