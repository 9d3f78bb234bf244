"""How the sender reaches the SMTP server: AUTH LOGIN or PLAIN with EMAIL_USER and
EMAIL_PASSWORD, STARTTLS, implicit TLS, and a certificate checked against EMAIL_CA_FILE."""

from __future__ import annotations

from typing import Any

import pytest

from fastapi_auth.kernel.models.outbox_email import FAILED, PENDING, SENT
from tests.conftest import http_client
from tests.email.conftest import DatabaseFor
from tests.email.outbox import HANG_GUARD_SECONDS, Outbox, all_in, email_app
from tests.email.smtp_servers import (
    SMTP_PASSWORD,
    SMTP_USER,
    Authenticator,
    SmtpServer,
    TestCertificates,
    running,
)
from tests.services import TestDatabase
from tests.support import register, unique_email

MECHANISMS = ["LOGIN", "PLAIN"]
LOGIN = {"email_user": SMTP_USER, "email_password": SMTP_PASSWORD}


@pytest.fixture
async def email_database(email_database_for: DatabaseFor) -> TestDatabase:
    """The transport does not depend on the database: SQLite is enough here."""
    return await email_database_for("sqlite")


async def deliver(
    database: TestDatabase, server: SmtpServer, outbox: Outbox, **settings: Any
) -> str:
    """Registers an address through an app with these settings; returns the address once
    its verification email was delivered."""
    email = unique_email()
    async with (
        email_app(database, server.port, **settings) as application,
        http_client(application) as http,
    ):
        assert (await register(http, email)).status_code == 202
        await server.mailbox.wait_for(email, "Verify", within_seconds=HANG_GUARD_SECONDS)
        await outbox.wait_until(all_in(SENT), email)
    return email


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_login_with_the_configured_credentials(
    mechanism: str, email_database: TestDatabase, outbox: Outbox
) -> None:
    authenticator = Authenticator()
    server = SmtpServer(
        authenticator=authenticator,
        auth_require_tls=False,
        auth_exclude_mechanism=[other for other in MECHANISMS if other != mechanism],
    )
    with running(server):
        email = await deliver(email_database, server, outbox, **LOGIN)
    assert authenticator.mechanisms == [mechanism]
    assert len(server.mailbox.to(email)) == 1


async def test_a_refused_login_fails_the_email_instead_of_retrying_it(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    authenticator = Authenticator()
    server = SmtpServer(authenticator=authenticator, auth_require_tls=False)
    email = unique_email()
    with running(server):
        async with (
            email_app(
                email_database, server.port, email_user=SMTP_USER, email_password="wrong"
            ) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            [row] = await outbox.wait_until(all_in(FAILED), email)
    assert row.attempts == 1
    assert (row.last_error or "").startswith("535")
    assert authenticator.mechanisms
    assert server.mailbox.to(email) == []


async def test_starttls_then_login(
    email_database: TestDatabase, outbox: Outbox, certificates: TestCertificates
) -> None:
    authenticator = Authenticator()
    server = SmtpServer(
        tls_context=certificates.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    with running(server):
        email = await deliver(
            email_database,
            server,
            outbox,
            email_starttls=True,
            email_ca_file=str(certificates.ca_file),
            **LOGIN,
        )
    assert len(authenticator.mechanisms) == 1
    assert len(server.mailbox.to(email)) == 1


async def test_implicit_tls(
    email_database: TestDatabase, outbox: Outbox, certificates: TestCertificates
) -> None:
    server = SmtpServer(ssl_context=certificates.server_context())
    with running(server):
        email = await deliver(
            email_database,
            server,
            outbox,
            email_ssl=True,
            email_ca_file=str(certificates.ca_file),
        )
    assert len(server.mailbox.to(email)) == 1


async def test_a_certificate_from_an_untrusted_ca_is_refused(
    email_database: TestDatabase, outbox: Outbox, certificates: TestCertificates
) -> None:
    server = SmtpServer(ssl_context=certificates.server_context())
    email = unique_email()
    with running(server):
        async with (
            email_app(email_database, server.port, email_ssl=True) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            [row] = await outbox.wait_until(lambda rows: bool(rows[0].last_error), email)
    assert row.status == PENDING
    assert "CERTIFICATE_VERIFY_FAILED" in (row.last_error or "")
    assert server.mailbox.to(email) == []
