"""The transactional outbox: an email exists exactly when the change that caused it committed,
and once it exists it is delivered, whatever happened to SMTP or to the process meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError

from fastapi_auth.email.dispatcher import OutboxDispatcher
from fastapi_auth.email.sender import SmtpEmailSender
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.models import OutboxEmail, utcnow
from fastapi_auth.kernel.models.outbox_email import PENDING, SENT
from tests.conftest import http_client
from tests.email.outbox import HANG_GUARD_SECONDS, Outbox, all_in, email_app, email_settings
from tests.email.smtp_servers import SmtpServer, running
from tests.kernel.test_database_outage import BlackHole
from tests.services import TestDatabase
from tests.support import database_of, register, unique_email


@pytest.fixture
async def server() -> AsyncIterator[SmtpServer]:
    with running(SmtpServer()) as smtp:
        yield smtp


async def test_emails_queued_while_smtp_is_down_arrive_once_it_is_back(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    smtp = SmtpServer()
    email = unique_email()
    async with (
        email_app(email_database, smtp.port) as application,
        http_client(application) as http,
    ):
        assert (await register(http, email)).status_code == 202
        reset = await http.post("/auth/forgot-password", json={"email": email})
        assert reset.status_code == 202

        # Both were tried against the stopped server, failed, and wait for another attempt.
        tried = await outbox.wait_until(
            lambda rows: len(rows) == 2 and all(row.last_error for row in rows), email
        )
        assert {row.status for row in tried} == {PENDING}

        with running(smtp):
            await smtp.mailbox.wait_for(email, "Verify", within_seconds=HANG_GUARD_SECONDS)
            await smtp.mailbox.wait_for(email, "Finish", within_seconds=HANG_GUARD_SECONDS)
            await outbox.wait_until(all_in(SENT), email)

    subjects = sorted(received.subject for received in smtp.mailbox.to(email))
    assert subjects == ["Finish creating your account", "Verify your email address"]


async def register_and_die_before_sending(
    email_database: TestDatabase, outbox: Outbox, server: SmtpServer, email: str
) -> OutboxEmail:
    """A registration committed by a process that dies before its dispatcher sends."""
    async with (
        email_app(email_database, server.port, email_dispatcher_enabled=False) as crashed,
        http_client(crashed) as http,
    ):
        assert (await register(http, email)).status_code == 202
    row = await outbox.one(email)
    assert (row.status, row.attempts) == (PENDING, 0)
    assert server.mailbox.to(email) == []
    return row


async def test_an_email_committed_before_a_crash_is_sent_by_a_fresh_dispatcher(
    email_database: TestDatabase, outbox: Outbox, server: SmtpServer
) -> None:
    email = unique_email()
    await register_and_die_before_sending(email_database, outbox, server, email)

    async with email_app(email_database, server.port):
        await server.mailbox.wait_for(email, "Verify", within_seconds=HANG_GUARD_SECONDS)
        await outbox.wait_until(all_in(SENT), email)
    assert len(server.mailbox.to(email)) == 1


async def test_an_email_leased_by_a_dispatcher_that_died_is_sent_once_the_lease_ends(
    email_database: TestDatabase, outbox: Outbox, server: SmtpServer
) -> None:
    email = unique_email()
    row = await register_and_die_before_sending(email_database, outbox, server, email)
    settings = email_settings(email_database, server.port)
    database = Database(settings)
    dispatcher = OutboxDispatcher(database, SmtpEmailSender(settings), settings)
    try:
        # A dispatcher claimed it, then died before sending: its lease still runs.
        await set_lease(database, row, utcnow() + timedelta(minutes=5))
        assert await dispatcher.dispatch_due() == 0
        assert server.mailbox.to(email) == []

        await set_lease(database, row, utcnow() - timedelta(seconds=1))
        assert await dispatcher.dispatch_due() == 1
    finally:
        await database.dispose()
    assert len(server.mailbox.to(email)) == 1
    assert (await outbox.one(email)).status == SENT


async def set_lease(database: Database, row: OutboxEmail, until: Any) -> None:
    async with database.transaction() as session:
        await session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == row.id)
            .values(locked_until=until, attempts=OutboxEmail.attempts + 1)
        )


async def test_a_rolled_back_registration_leaves_no_outbox_row(
    email_database: TestDatabase, outbox: Outbox, server: SmtpServer
) -> None:
    def fail_commit(_connection: Any) -> None:
        raise OperationalError("COMMIT", None, ConnectionResetError("lost during commit"))

    doomed, kept = unique_email(), unique_email()
    async with (
        email_app(email_database, server.port, email_dispatcher_enabled=False) as application,
        http_client(application) as http,
    ):
        engine = database_of(application).engine.sync_engine
        event.listen(engine, "commit", fail_commit)
        try:
            refused = await register(http, doomed)
        finally:
            event.remove(engine, "commit", fail_commit)
        assert refused.status_code == 503, refused.text
        assert (await register(http, kept)).status_code == 202

    assert await outbox.rows(doomed) == []
    assert len(await outbox.rows(kept)) == 1


async def test_the_response_never_waits_for_a_silent_smtp_server_and_the_send_times_out(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    email = unique_email()
    async with (
        BlackHole() as hole,
        email_app(email_database, hole.port, email_timeout_seconds=2) as application,
        http_client(application) as http,
    ):
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            response = await register(http, email)
        assert response.status_code == 202
        # Answered while the first attempt was still stuck in the silent server.
        answered_with = await outbox.one(email)
        assert answered_with.last_error is None

        timed_out = await outbox.wait_until(lambda rows: bool(rows[0].last_error), email)
        assert timed_out[0].status == PENDING
        assert "timed out" in (timed_out[0].last_error or "").lower()
        assert hole.connections
