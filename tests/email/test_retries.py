"""Failures: a temporary refusal (4xx) is retried until delivered, a permanent one (5xx) is
not retried, and a temporary one that never ends stops after EMAIL_MAX_ATTEMPTS."""

from __future__ import annotations

import uuid

import pytest

from fastapi_auth.kernel.models.outbox_email import FAILED, SENT
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


@pytest.mark.parametrize(
    ("reply", "max_attempts", "attempts"),
    [
        pytest.param("550 5.1.1 No such user here", 8, 1, id="permanent-after-one"),
        pytest.param("421 4.7.0 Too busy, come back later", 2, 2, id="temporary-until-the-last"),
    ],
)
async def test_a_refused_email_ends_failed_with_the_servers_reason(
    email_database: TestDatabase, outbox: Outbox, reply: str, max_attempts: int, attempts: int
) -> None:
    """A 5xx is not retried at all; a 4xx that never ends stops at EMAIL_MAX_ATTEMPTS."""
    refusing = RefusingMailbox(reply=reply)
    email = unique_email()
    with running(SmtpServer(refusing)) as server:
        async with (
            email_app(email_database, server.port, email_max_attempts=max_attempts) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            [row] = await outbox.wait_until(all_in(FAILED), email)
    assert row.attempts == attempts
    assert refusing.refused == attempts
    assert row.last_error is not None
    assert reply.split(" ", 2)[2] in row.last_error
    assert reply.split(" ", 1)[0] in row.last_error


async def test_an_address_the_server_cannot_take_without_smtputf8_fails_at_once(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    """An address with non-ASCII letters needs SMTPUTF8; a server without it will never
    take it, so retrying for an hour only delays telling anyone."""
    email = f"\u0438\u0432\u0430\u043d{uuid.uuid4().int % 10**12}@example.com"
    with running(SmtpServer(enable_SMTPUTF8=False)) as server:
        async with (
            email_app(email_database, server.port, email_max_attempts=8) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            [row] = await outbox.wait_until(all_in(FAILED), email)
    assert row.attempts == 1
    assert row.last_error is not None
    assert "SMTPUTF8" in row.last_error


async def test_an_internationalised_domain_needs_no_smtputf8(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    """The domain goes out as the DNS knows it (IDNA), so a server without SMTPUTF8
    delivers an ASCII local part at a non-ASCII domain."""
    email = f"{unique_email().split('@')[0]}@b\u00fccher.example"
    server = SmtpServer(enable_SMTPUTF8=False)
    with running(server):
        async with (
            email_app(email_database, server.port) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            await outbox.wait_until(all_in(SENT), email)
    [received] = server.mailbox.received[-1:]
    assert received.recipients == [email.replace("b\u00fccher", "xn--bcher-kva")]
