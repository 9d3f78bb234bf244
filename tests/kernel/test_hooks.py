"""Hooks run after the commit, in a task of their own: a failing or slow hook never
changes, delays or rolls back the request, and a rolled-back change announces nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fastapi_auth import AccountEvent, Hooks, SecurityEventType, create_app
from tests.conftest import http_client, make_settings
from tests.mailbox import Mailbox, SmtpCapture
from tests.services import TestDatabase
from tests.support import PASSWORD, login, register, register_verified, unique_email


@pytest.fixture
async def hooked(
    database: TestDatabase, smtp: SmtpCapture
) -> AsyncIterator[tuple[FastAPI, Hooks, list[AccountEvent]]]:
    hooks = Hooks()
    seen: list[AccountEvent] = []

    @hooks.on()
    async def remember(event: AccountEvent) -> None:
        seen.append(event)

    application = create_app(make_settings(database, smtp), hooks=hooks)
    async with LifespanManager(application):
        yield application, hooks, seen


async def test_a_failing_hook_breaks_nothing(
    hooked: tuple[FastAPI, Hooks, list[AccountEvent]],
    mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, hooks, seen = hooked

    @hooks.on(SecurityEventType.REGISTERED)
    async def crash(_event: AccountEvent) -> None:
        raise RuntimeError("the CRM is down")

    email = unique_email()
    async with http_client(app) as client:
        with caplog.at_level(logging.ERROR, logger="fastapi_auth.hooks"):
            answer = await register(client, email)
            await hooks.wait()
        assert answer.status_code == 202
        message = await mailbox.last(email, "Verify")
        verified = await client.post("/auth/verify-email", json={"token": message.token})
        assert verified.status_code == 200, "the registration committed"
        await hooks.wait()
    assert "the hook" in caplog.text
    assert "crash" in caplog.text
    assert [event.type for event in seen if event.email == email] == [
        SecurityEventType.REGISTERED,
        SecurityEventType.EMAIL_VERIFIED,
    ], "the other hooks still ran, for each event"


async def test_the_request_does_not_wait_for_its_hooks(
    hooked: tuple[FastAPI, Hooks, list[AccountEvent]], mailbox: Mailbox
) -> None:
    app, hooks, _seen = hooked
    release = asyncio.Event()
    started = asyncio.Event()

    @hooks.on(SecurityEventType.LOGIN_SUCCEEDED)
    async def slow(_event: AccountEvent) -> None:
        started.set()
        await release.wait()

    async with http_client(app) as client:
        account = await register_verified(client, mailbox)
        await login(client, account)
        await started.wait()
        me = await client.get("/users/me", headers=account.headers)
        assert me.status_code == 200, "answered while the hook is still running"
    release.set()
    await hooks.wait()


async def test_a_change_that_rolled_back_announces_nothing(
    hooked: tuple[FastAPI, Hooks, list[AccountEvent]], mailbox: Mailbox
) -> None:
    app, hooks, seen = hooked
    async with http_client(app) as client:
        account = await login(client, await register_verified(client, mailbox))
        refused = await client.post(
            "/users/change-password",
            json={"current_password": "not the password", "new_password": "another passphrase"},
            headers=account.headers,
        )
        assert refused.status_code == 400
        changed = await client.post(
            "/users/change-password",
            json={"current_password": PASSWORD, "new_password": "another passphrase"},
            headers=account.headers,
        )
        assert changed.status_code == 200
    await hooks.wait()
    mine = [event for event in seen if event.user_id is not None and event.email == account.email]
    assert [event.type for event in mine].count(SecurityEventType.PASSWORD_CHANGED) == 1
    [change] = [event for event in mine if event.type == SecurityEventType.PASSWORD_CHANGED]
    assert change.session_id is not None
    assert change.ip_address is not None


async def test_a_hook_for_one_type_sees_only_that_type(
    hooked: tuple[FastAPI, Hooks, list[AccountEvent]], mailbox: Mailbox
) -> None:
    app, hooks, _seen = hooked
    deleted: list[AccountEvent] = []

    @hooks.on(SecurityEventType.ACCOUNT_DELETED)
    async def goodbye(event: AccountEvent) -> None:
        deleted.append(event)

    async with http_client(app) as client:
        account = await login(client, await register_verified(client, mailbox))
        gone = await client.request(
            "DELETE", "/users/me", json={"password": PASSWORD}, headers=account.headers
        )
        assert gone.status_code == 204
    await hooks.wait()
    assert [(event.type, event.email) for event in deleted] == [
        (SecurityEventType.ACCOUNT_DELETED, account.email)
    ]
