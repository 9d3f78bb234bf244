"""Which principal a route gets: detached for reading, attached to the request's
session for changing anything, so no change made on the signed-in user is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from fastapi_auth import auth_lifespan, build_runtime, install
from fastapi_auth.kernel.components import SessionDep
from fastapi_auth.kernel.principal import (
    AttachedPrincipal,
    CurrentUser,
    attached_principal,
    current_principal,
)
from fastapi_auth.kernel.settings import Settings
from fastapi_auth.main import ROUTERS
from tests.conftest import http_client
from tests.mailbox import Mailbox
from tests.support import logged_in

READING = {"GET", "HEAD"}


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from calls(dependency)


def test_every_route_that_changes_something_gets_the_attached_principal() -> None:
    signed_in = [
        route
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and current_principal in set(calls(route.dependant))
    ]
    assert len(signed_in) >= 8, "the account's routes are all found"
    for route in signed_in:
        if (route.methods or set()) - READING:
            assert attached_principal in set(calls(route.dependant)), route.path


@pytest.fixture
async def host_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    """A host with two routes of its own that change the signed-in user's name, one
    with each principal, on the test's database."""
    settings: Settings = app.state.fastapi_auth.get(Settings)
    runtime = build_runtime(settings)
    host = FastAPI(lifespan=auth_lifespan(runtime))
    install(host, runtime)

    @host.post("/rename-attached")
    async def rename_attached(principal: AttachedPrincipal, session: SessionDep) -> None:
        principal.user.full_name = "Renamed"

    @host.post("/rename-detached")
    async def rename_detached(user: CurrentUser) -> None:
        user.full_name = "Lost"

    async with LifespanManager(host):
        yield host


async def test_a_change_on_the_attached_user_is_written_with_the_request(
    host_app: FastAPI, mailbox: Mailbox
) -> None:
    client: httpx.AsyncClient
    async with http_client(host_app) as client:
        account = await logged_in(client, mailbox, full_name="Original")
        assert (await client.post("/rename-detached", headers=account.headers)).is_success
        me = await client.get("/users/me", headers=account.headers)
        assert me.json()["full_name"] == "Original", "a detached copy is never written"
        assert (await client.post("/rename-attached", headers=account.headers)).is_success
        me = await client.get("/users/me", headers=account.headers)
        assert me.json()["full_name"] == "Renamed"
