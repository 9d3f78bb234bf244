"""`mount(app, prefix=...)`: every route, page, file and emailed link under the prefix,
the host's own lifespan composed with the package's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fastapi_auth import CurrentUser, OptionalUser, mount
from fastapi_auth.kernel.db import Database
from tests.conftest import http_client, make_settings
from tests.mailbox import Mailbox, SmtpCapture
from tests.services import TestDatabase
from tests.support import PASSWORD, bearer, part_of, unique_email

PREFIX = "/id"


async def test_everything_follows_the_prefix(
    database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox
) -> None:
    order: list[str] = []

    @asynccontextmanager
    async def hosts_lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        """Runs with the package's parts already started, and stopped after them."""
        await part_of(app, Database).ping()
        order.append("host started")
        yield {"greeting": "hello"}
        order.append("host stopped")

    host = FastAPI(lifespan=hosts_lifespan)

    @host.get("/whoami")
    async def whoami(user: OptionalUser) -> dict[str, str | None]:
        return {"email": user.email if user else None}

    @host.get("/private")
    async def private(user: CurrentUser) -> dict[str, str]:
        return {"email": user.email}

    mount(host, make_settings(database, smtp), prefix=PREFIX)
    email = unique_email()
    async with LifespanManager(host), http_client(host) as client:
        assert order == ["host started"]
        assert (await client.post("/auth/register", json={})).status_code == 404
        registered = await client.post(
            f"{PREFIX}/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 202
        message = await mailbox.last(email, "Verify")
        assert message.link.startswith(f"http://localhost:8000{PREFIX}/auth/verify-email?token=")
        page = await client.get(message.link.removeprefix("http://localhost:8000"))
        assert page.status_code == 200
        assert f'action="{PREFIX}/auth/verify-email"' in page.text
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
        assert stylesheet is not None
        assert stylesheet[1].startswith(f"{PREFIX}/")
        assert (await client.get(stylesheet[1])).status_code == 200
        verified = await client.post(f"{PREFIX}/auth/verify-email", json={"token": message.token})
        assert verified.status_code == 200
        login = await client.post(
            f"{PREFIX}/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert login.status_code == 200
        token = login.json()["access_token"]
        assert (await client.get("/whoami")).json() == {"email": None}
        assert (await client.get("/whoami", headers=bearer(token))).json() == {"email": email}
        assert (await client.get("/whoami", headers=bearer("junk"))).status_code == 401
        assert (await client.get("/private", headers=bearer(token))).json() == {"email": email}
        forgot = await client.post(f"{PREFIX}/auth/forgot-password", json={"email": email})
        assert forgot.status_code == 202
        reset = await mailbox.last(email, "Reset")
        assert reset.link.startswith(f"http://localhost:8000{PREFIX}/reset-password?token=")
        form = await client.get(reset.link.removeprefix("http://localhost:8000"))
        assert f'action="{PREFIX}/auth/reset-password"' in form.text
        assert f'src="{PREFIX}/fastapi-auth/static/reset-password.js"' in form.text
    assert order == ["host started", "host stopped"]


@pytest.mark.parametrize("prefix", ["id", "/id/", "id/"])
def test_a_prefix_is_a_path(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        mount(FastAPI(), prefix=prefix)


async def test_migrate_brings_the_schema_up_before_the_hosts_start(
    unmigrated_database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox
) -> None:
    ready_at_host_start: list[int] = []

    @asynccontextmanager
    async def hosts_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with http_client(app) as early:
            ready_at_host_start.append((await early.get("/health/ready")).status_code)
        yield

    host = FastAPI(lifespan=hosts_lifespan)
    mount(host, make_settings(unmigrated_database, smtp), migrate=True)
    email = unique_email()
    async with LifespanManager(host), http_client(host) as client:
        registered = await client.post(
            "/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 202
        assert (await mailbox.last(email, "Verify")).link
    assert ready_at_host_start == [200]
