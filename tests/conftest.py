"""Fixtures: one database per backend per run, a real SMTP capture, the app over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fastapi_auth import Settings, create_app
from tests import log_scan
from tests.mailbox import Mailbox, SmtpCapture
from tests.services import (
    BACKENDS,
    TestDatabase,
    create_database,
    drop_database,
    migrate,
    missing_required_services,
)

JWT_SECRET = secrets.token_urlsafe(48)

AppFactory = Callable[..., Awaitable[FastAPI]]


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = missing_required_services()
    if missing:
        pytest.exit(f"REQUIRE_SERVICES=1 but {', '.join(missing)} did not answer", returncode=3)
    root = logging.getLogger()
    root.addHandler(log_scan.RECORDER)
    root.setLevel(min(root.level, logging.INFO))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No log line of the whole run holds a password, a token or a link token it used."""
    found = log_scan.leaks()
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"{len(found)} secrets in the run's log lines:", red=True)
            for line in found[:20]:
                reporter.write_line(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def smtp() -> Any:
    capture = SmtpCapture()
    capture.start()
    yield capture
    capture.stop()


@pytest.fixture(scope="session")
def mailbox(smtp: SmtpCapture) -> Mailbox:
    return smtp.mailbox


@pytest.fixture(scope="session", params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestDatabase]:
    created = await create_database(request.param, tmp_path_factory.mktemp("db"))
    await asyncio.to_thread(migrate, created.url)
    yield created
    await drop_database(created)


@pytest.fixture(params=BACKENDS)
async def unmigrated_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[TestDatabase]:
    """A database of the test's own, never migrated."""
    created = await create_database(request.param, tmp_path)
    yield created
    await drop_database(created)


def make_settings(database: TestDatabase, smtp: SmtpCapture, **overrides: Any) -> Settings:
    return settings_for(database.url, smtp.port, **overrides)


def settings_for(db_url: str, smtp_port: int, **overrides: Any) -> Settings:
    """The suite's settings: this run's secret, mail to a local capture server, limits off."""
    values: dict[str, Any] = {
        "environment": "test",
        "db_url": db_url,
        "jwt_secret": JWT_SECRET,
        "email_host": "127.0.0.1",
        "email_port": smtp_port,
        "email_starttls": False,
        "email_timeout_seconds": 5,
        "email_poll_seconds": 0.1,
        "rate_limit_enabled": False,
        "rate_limit_key_prefix": f"test-{secrets.token_hex(6)}",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
async def app(database: TestDatabase, smtp: SmtpCapture) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(database, smtp))
    async with LifespanManager(application):
        yield application


def http_client(application: FastAPI, **options: Any) -> httpx.AsyncClient:
    """A client of the app over ASGI, noting the secrets it sends and receives for the
    run's log scan (`tests.log_scan`)."""
    transport = httpx.ASGITransport(app=application, **options)
    return httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        event_hooks={
            "request": [log_scan.remember_request_secrets],
            "response": [log_scan.remember_response_tokens],
        },
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as http:
        yield http


@pytest.fixture
async def make_app(database: TestDatabase, smtp: SmtpCapture) -> AsyncIterator[AppFactory]:
    """Another app instance on this run's database, with settings of the test's choosing."""
    async with AsyncExitStack() as stack:

        async def factory(**overrides: Any) -> FastAPI:
            application = create_app(make_settings(database, smtp, **overrides))
            await stack.enter_async_context(LifespanManager(application))
            return application

        yield factory


@contextlib.asynccontextmanager
async def two_instances(
    app: FastAPI, make_app: AppFactory, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Clients of two app instances on one database, as behind a load balancer."""
    other = await make_app(email_dispatcher_enabled=False, **overrides)
    async with http_client(app) as first, http_client(other) as second:
        yield first, second


@pytest.fixture
def reuse_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A link used twice within `RACING_USE` answers alike (a double click); a test that
    reuses one at once to see it spent takes that grace away."""
    monkeypatch.setattr("fastapi_auth.flows.service.RACING_USE", timedelta(0))
