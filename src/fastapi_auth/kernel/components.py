"""How the parts `main.py` built reach a request: found by their type.

`main.py` builds each long-lived part once per app (`Components.add`) and says, for each
service, how to make one on a request's session (`Components.provide`), handing it
exactly the collaborators its constructor names. A route asks for a part or a service
by its type (`use_part`, `use_service`); nothing else reads the app's state, and no service
sees the others' parts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends
from fastapi.requests import HTTPConnection
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp

from fastapi_auth.kernel.db import Database

T = TypeVar("T")


class Components:
    def __init__(self) -> None:
        self._parts: dict[type[Any], object] = {}
        self._services: dict[type[Any], Callable[[AsyncSession], object]] = {}

    def add(self, part: T) -> T:
        self._parts[type(part)] = part
        return part

    def get(self, kind: type[T]) -> T:
        try:
            return cast(T, self._parts[kind])
        except KeyError:
            raise LookupError(f"main.py built no {kind.__name__}") from None

    def provide(self, kind: type[T], build: Callable[[AsyncSession], T]) -> None:
        self._services[kind] = build

    def build(self, kind: type[T], session: AsyncSession) -> T:
        """A service on `session`, with the collaborators `main.py` gave it."""
        try:
            build = self._services[kind]
        except KeyError:
            raise LookupError(f"main.py provides no {kind.__name__}") from None
        return cast(T, build(session))


def components_of(app: ASGIApp) -> Components:
    components: Components = app.state.fastapi_auth  # type: ignore[attr-defined]
    return components


def use_part(kind: type[T]) -> Any:
    """`Annotated[Kind, use_part(Kind)]`: the app's one `Kind`."""

    async def get_part(connection: HTTPConnection) -> T:
        # `async` although it never awaits: FastAPI runs a plain `def` dependency in a
        # worker thread, which costs a thread hop on every request.
        return components_of(connection.app).get(kind)

    return Depends(get_part)


async def get_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
    """The request's unit of work (`Database.transaction`): committed after the handler
    returns, before the response is sent."""
    async with components_of(connection.app).get(Database).transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def use_service(kind: type[T]) -> Any:
    """`Annotated[Kind, use_service(Kind)]`: a `Kind` on the request's session."""

    async def build_service(connection: HTTPConnection, session: SessionDep) -> T:
        return components_of(connection.app).build(kind, session)

    return Depends(build_service)
