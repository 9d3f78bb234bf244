"""Failures: a temporary refusal (4xx) is retried until delivered, a permanent one (5xx) is
not retried, and a temporary one that never ends stops after EMAIL_MAX_ATTEMPTS."""

from __future__ import annotations

from fastapi_auth.models.outbox_email import FAILED, SENT
from tests.conftest import http_client
from tests.email.outbox import HANG_GUARD_SECONDS, Outbox, all_in, email_app
from tests.email.smtp_servers import RefusingMailbox, SmtpServer, running
from tests.services import TestDatabase
from tests.support import register, unique_email


async def test_a_temporary_refusal_is_retried_and_the_email_delivered(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    refusing = RefusingMailbox(reply="451 4.3.0 Mailbox busy, try again", times=2)
    email = unique_email()
    with running(SmtpServer(refusing)) as server:
        async with (
            email_app(email_database, server.port) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            await refusing.wait_for(email, "Verify", within_seconds=HANG_GUARD_SECONDS)
            [row] = await outbox.wait_until(all_in(SENT), email)
    assert refusing.refused == 2
    assert row.attempts == 3
    assert row.last_error is None
    assert len(refusing.to(email)) == 1


async def test_a_permanent_refusal_fails_the_email_after_one_attempt(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    refusing = RefusingMailbox(reply="550 5.1.1 No such user here")
    email = unique_email()
    with running(SmtpServer(refusing)) as server:
        async with (
            email_app(email_database, server.port) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            [row] = await outbox.wait_until(all_in(FAILED), email)
    assert row.attempts == 1
    assert refusing.refused == 1
    assert row.last_error is not None
    assert "550" in row.last_error
    assert "No such user here" in row.last_error


async def test_temporary_refusals_stop_after_the_last_attempt(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    refusing = RefusingMailbox(reply="421 4.7.0 Too busy, come back later")
    email = unique_email()
    with running(SmtpServer(refusing)) as server:
        async with (
            email_app(email_database, server.port, email_max_attempts=2) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            [row] = await outbox.wait_until(all_in(FAILED), email)
    assert row.attempts == 2
    assert refusing.refused == 2
    assert row.last_error is not None
    assert "Too busy" in row.last_error
