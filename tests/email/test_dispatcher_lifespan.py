"""The in-app dispatcher lives and dies with the app: started by the lifespan, stopped
without leaving a task behind, and without cutting off a send the server is accepting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fastapi_auth import create_app
from fastapi_auth.kernel.models.outbox_email import PENDING, SENT
from tests.conftest import http_client
from tests.email.outbox import HANG_GUARD_SECONDS, Outbox, email_app, email_settings
from tests.email.smtp_servers import SlowMailbox, SmtpServer, running
from tests.kernel.test_database_outage import BlackHole
from tests.services import TestDatabase
from tests.support import register, unique_email

TASK_NAME = "outbox-dispatcher"


def dispatcher_tasks() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task.get_name() == TASK_NAME}


async def test_the_lifespan_starts_the_dispatcher_and_stops_it(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    before = dispatcher_tasks()
    application = create_app(email_settings(email_database, port=1))
    async with LifespanManager(application):
        started = dispatcher_tasks() - before
        assert len(started) == 1
        [task] = started
        assert not task.done()
    assert task.done()
    assert dispatcher_tasks() == before


async def test_with_the_dispatcher_disabled_the_app_runs_none(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    before = dispatcher_tasks()
    settings = email_settings(email_database, port=1, email_dispatcher_enabled=False)
    async with LifespanManager(create_app(settings)):
        assert dispatcher_tasks() == before


async def test_a_commit_wakes_the_dispatcher_without_waiting_for_its_next_poll(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    email = unique_email()
    with running(SmtpServer()) as server:
        async with (
            email_app(email_database, server.port, email_poll_seconds=3600) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            await server.mailbox.wait_for(email, "Verify", within_seconds=HANG_GUARD_SECONDS)


async def test_stopping_lets_a_send_in_flight_finish_so_it_is_not_sent_again(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    slow = SlowMailbox(delay_seconds=0.5)
    email = unique_email()
    with running(SmtpServer(slow)) as server:
        application: FastAPI
        async with email_app(email_database, server.port) as application:
            async with http_client(application) as http:
                assert (await register(http, email)).status_code == 202
            await wait_for(lambda: slow.started > 0)
        # The app stopped while the server was still taking the message.
        assert len(slow.to(email)) == 1
        assert (await outbox.one(email)).status == SENT


async def test_stopping_does_not_wait_forever_on_a_silent_server(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    email = unique_email()
    before = dispatcher_tasks()
    async with BlackHole() as hole:
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            async with email_app(email_database, hole.port, email_timeout_seconds=2) as app:
                async with http_client(app) as http:
                    assert (await register(http, email)).status_code == 202
                await wait_for(lambda: bool(hole.connections))
        assert dispatcher_tasks() == before
    # Cut off mid-send, the email is not lost: it stays queued for the next dispatcher.
    row = await outbox.one(email)
    assert (row.status, row.attempts) == (PENDING, 1)


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)
