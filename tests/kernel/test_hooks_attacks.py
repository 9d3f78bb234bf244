"""Hooks under stress: a hook that writes through the package, one that is cancelled from
inside, one still running at shutdown, and the events of a refused login."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from fastapi_auth import AccountEvent, Hooks, SecurityEventType, mount
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.models import SecurityEvent
from tests.conftest import http_client, make_settings
from tests.mailbox import Mailbox, SmtpCapture
from tests.services import TestDatabase
from tests.support import PASSWORD, logged_in, register, unique_email


async def test_a_hook_cancelled_from_inside_does_not_silence_the_other_hooks(
    database: TestDatabase, smtp: SmtpCapture
) -> None:
    """A hook that awaits something that was cancelled (its own task, a client's call)
    raises `CancelledError`: it is one failing hook, logged and skipped like any other,
    not the end of every hook after it."""
    hooks = Hooks()
    seen: list[SecurityEventType] = []

    @hooks.on(SecurityEventType.REGISTERED)
    async def awaits_a_cancelled_call(_event: AccountEvent) -> None:
        call = asyncio.get_running_loop().create_task(asyncio.sleep(10))
        call.cancel()
        await call

    @hooks.on()
    async def remember(event: AccountEvent) -> None:
        seen.append(event.type)

    host = FastAPI()
    mount(host, make_settings(database, smtp), hooks=hooks)
    async with LifespanManager(host), http_client(host) as client:
        assert (await register(client, unique_email())).status_code == 202
        await hooks.wait()
    assert seen == [SecurityEventType.REGISTERED]


async def test_hooks_finish_before_the_hosts_shutdown_closes_what_they_use(
    database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox
) -> None:
    """Hooks are the host's code and use the host's resources (its HTTP clients, its
    engine): the host's shutdown must not close them under a hook still running."""
    closed = asyncio.Event()
    hooks = Hooks()
    saw_closed: list[bool] = []

    @hooks.on(SecurityEventType.LOGIN_SUCCEEDED)
    async def slow_crm_call(_event: AccountEvent) -> None:
        await asyncio.sleep(0.3)
        saw_closed.append(closed.is_set())

    @asynccontextmanager
    async def hosts_lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        closed.set()

    host = FastAPI(lifespan=hosts_lifespan)
    mount(host, make_settings(database, smtp), hooks=hooks)
    async with LifespanManager(host), http_client(host) as client:
        await logged_in(client, mailbox)
    assert saw_closed == [False]


async def test_a_hook_registered_after_mount_runs(
    database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox
) -> None:
    """`hooks = Hooks(); mount(app, settings, hooks=hooks)`, then `@hooks.on(...)` in
    another module: the hooks `mount` was given are the ones it runs (an empty `Hooks` is
    still the host's, not a reason to make another)."""
    hooks = Hooks()
    host = FastAPI()
    runtime = mount(host, make_settings(database, smtp), hooks=hooks)
    seen: list[SecurityEventType] = []

    @hooks.on(SecurityEventType.LOGIN_SUCCEEDED)
    async def remember(event: AccountEvent) -> None:
        seen.append(event.type)

    assert runtime.hooks is hooks
    async with LifespanManager(host), http_client(host) as client:
        await logged_in(client, mailbox)
        await hooks.wait()
    assert seen == [SecurityEventType.LOGIN_SUCCEEDED]


async def test_a_hook_may_write_through_the_packages_database(
    database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox
) -> None:
    """A hook opening `auth.database.transaction()` of its own (here, one that announces
    nothing) runs after the request's commit, so it neither waits for nor blocks it."""
    hooks = Hooks()
    counted: list[int] = []
    databases: list[Database] = []

    @hooks.on(SecurityEventType.LOGIN_SUCCEEDED)
    async def count_logins(event: AccountEvent) -> None:
        async with databases[0].transaction() as session:
            total = await session.scalar(
                select(func.count())
                .select_from(SecurityEvent)
                .where(SecurityEvent.user_id == event.user_id)
            )
            counted.append(int(total or 0))

    host = FastAPI()
    databases.append(mount(host, make_settings(database, smtp), hooks=hooks).database)
    async with LifespanManager(host), http_client(host) as client:
        await logged_in(client, mailbox)
        await hooks.wait()
    assert len(counted) == 1
    assert counted[0] >= 1, "the login and the verification before it are committed"


async def test_a_refused_login_of_an_account_is_announced(
    database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox
) -> None:
    """`LOGIN_FAILED` commits with the refusal (`commit_changes`): the hooks see it, and
    no secret of the attempt."""
    hooks = Hooks()
    seen: list[AccountEvent] = []

    @hooks.on()
    async def remember(event: AccountEvent) -> None:
        seen.append(event)

    host = FastAPI()
    mount(host, make_settings(database, smtp), hooks=hooks)
    wrong = "a wrong passphrase here"
    async with LifespanManager(host), http_client(host) as client:
        account = await logged_in(client, mailbox)
        refused = await client.post("/auth/login", json={"email": account.email, "password": wrong})
        assert refused.status_code == 401
        await hooks.wait()
    failed = [event for event in seen if event.type == SecurityEventType.LOGIN_FAILED]
    assert len(failed) == 1
    assert all(wrong not in repr(event) and PASSWORD not in repr(event) for event in seen)
    assert account.access_token not in repr(seen)
