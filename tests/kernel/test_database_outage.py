"""With the database gone, requests that need it get 503 SERVICE_UNAVAILABLE at once (no
500, no hang), readiness says 503, and the service recovers by itself."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fastapi_auth import create_app
from fastapi_auth.kernel.tokens import AccessTokenCodec
from tests.conftest import make_settings
from tests.mailbox import SmtpCapture, free_port
from tests.services import (
    BACKENDS,
    POSTGRES_ADMIN_URL,
    TestDatabase,
    create_database,
    drop_database,
    migrate,
)
from tests.support import PASSWORD, part_of, register, unique_email

POSTGRES = [backend for backend in BACKENDS if backend == "postgresql"]
OUTAGE_LIMIT_SECONDS = 20
"""Not a timing assertion: only a guard so that a hang fails instead of stalling the run."""


class BlackHole:
    """Accepts TCP connections and never says a word, like a host that froze mid-handshake."""

    def __init__(self) -> None:
        self.connections: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> BlackHole:
        self.server = await asyncio.start_server(self._swallow, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _swallow(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer)

    async def __aexit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.connections:
            writer.close()
        await self.server.wait_closed()


class TcpProxy:
    """A switch in front of PostgreSQL: `stop` cuts every connection and refuses new ones
    (the database went away); `start` on the same port brings it back."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.writers):
            writer.close()
        for pipe in list(self.pipes):
            pipe.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)
        self.writers.clear()

    async def _connect(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self.writers.update((client_writer, upstream_writer))
        for source, sink in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            pipe = asyncio.create_task(self._pipe(source, sink))
            self.pipes.add(pipe)
            pipe.add_done_callback(self.pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65_536):
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            sink.close()
            self.writers.discard(sink)


def postgres_url(port: int, database: str = "app") -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{database}"


@contextlib.asynccontextmanager
async def app_on(db_url: str, smtp: SmtpCapture, **overrides: Any) -> AsyncIterator[FastAPI]:
    placeholder = TestDatabase("postgresql", db_url, "unused")
    settings = make_settings(
        placeholder,
        smtp,
        db_connect_timeout_seconds=0.5,
        email_dispatcher_enabled=False,
        **overrides,
    )
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


def valid_looking_token(application: FastAPI) -> str:
    codec = part_of(application, AccessTokenCodec)
    return codec.issue(uuid.uuid4(), uuid.uuid4())


async def assert_all_unavailable(application: FastAPI) -> None:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {valid_looking_token(application)}"}
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        asyncio.timeout(OUTAGE_LIMIT_SECONDS),
    ):
        answers = [
            await http.get("/health/ready"),
            await http.get("/users/me", headers=headers),
            await http.post("/auth/refresh", json={"refresh_token": secrets.token_urlsafe(32)}),
            await http.post("/auth/login", json={"email": unique_email(), "password": PASSWORD}),
            await register(http, unique_email()),
            await http.post("/auth/forgot-password", json={"email": unique_email()}),
        ]
        live = await http.get("/health/live")
    for response in answers:
        assert response.status_code == 503, (response.request.url, response.text)
        assert response.json() == {
            "detail": "The service is temporarily unavailable; try again shortly.",
            "code": "SERVICE_UNAVAILABLE",
        }
        assert int(response.headers["Retry-After"]) > 0
    assert live.status_code == 200


async def test_connection_refused_is_503(smtp: SmtpCapture) -> None:
    async with app_on(postgres_url(free_port()), smtp) as application:
        await assert_all_unavailable(application)


async def test_a_database_that_never_answers_is_503_not_a_hang(smtp: SmtpCapture) -> None:
    async with BlackHole() as hole, app_on(postgres_url(hole.port), smtp) as application:
        await assert_all_unavailable(application)
        assert hole.connections


async def test_an_unreachable_sqlite_file_is_503(tmp_path: Path, smtp: SmtpCapture) -> None:
    missing = tmp_path / "no" / "such" / "directory" / "auth.db"
    async with app_on(f"sqlite+aiosqlite:///{missing}", smtp) as application:
        await assert_all_unavailable(application)


@pytest.fixture(scope="module")
async def proxied_database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    created = await create_database("postgresql", tmp_path_factory.mktemp("outage"))
    await asyncio.to_thread(migrate, created.url)
    yield created.name
    await drop_database(created)


@pytest.mark.parametrize("backend", POSTGRES)
async def test_the_service_recovers_by_itself_when_the_database_returns(
    backend: str, proxied_database: str, smtp: SmtpCapture
) -> None:
    assert backend == "postgresql"
    host, port = POSTGRES_ADMIN_URL.split("@")[1].split("/")[0].split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    try:
        url = postgres_url(proxy.port, proxied_database)
        async with (
            app_on(url, smtp) as application,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application, raise_app_exceptions=False),
                base_url="http://testserver",
            ) as http,
        ):
            email = unique_email()
            assert (await http.get("/health/ready")).status_code == 200
            assert (await register(http, email)).status_code == 202

            await proxy.stop()
            async with asyncio.timeout(OUTAGE_LIMIT_SECONDS):
                assert (await http.get("/health/ready")).status_code == 503
                during = await register(http, email, password="registered during outage")
                assert during.status_code == 503
                assert during.json()["code"] == "SERVICE_UNAVAILABLE"

            await proxy.start()
            assert (await http.get("/health/ready")).status_code == 200
            # The refused re-registration changed nothing: the first password still holds.
            login = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 403, login.text
            assert login.json()["code"] == "EMAIL_NOT_VERIFIED"
    finally:
        await proxy.stop()
