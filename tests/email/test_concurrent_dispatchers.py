"""Two dispatchers on one PostgreSQL (as two API instances, or an instance and a worker)
share the queue: SKIP LOCKED hands each row to one of them, so each email goes out once."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest

from fastapi_auth.email.dispatcher import OutboxDispatcher, message_id
from fastapi_auth.email.repository import OutboxRepository
from fastapi_auth.email.sender import SmtpEmailSender
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.models import OutboxEmail
from fastapi_auth.kernel.models.outbox_email import SENT
from tests.email.conftest import DatabaseFor
from tests.email.outbox import Outbox, email_settings
from tests.email.smtp_servers import SmtpServer, running
from tests.services import BACKENDS

POSTGRES = [backend for backend in BACKENDS if backend == "postgresql"]
EMAILS = 200


@dataclass
class CountingSender:
    """The real SMTP sender, counting what went through this dispatcher."""

    sender: SmtpEmailSender
    sent: list[str] = field(default_factory=list)

    async def send(self, message: EmailMessage) -> None:
        await self.sender.send(message)
        self.sent.append(str(message["Message-ID"]))


@pytest.mark.parametrize("backend", POSTGRES)
async def test_two_dispatchers_deliver_each_of_200_emails_exactly_once(
    backend: str, email_database_for: DatabaseFor
) -> None:
    database = await email_database_for(backend)
    outbox = Outbox(database)
    await outbox.clear()
    tag = uuid.uuid4().hex[:8]
    async with outbox.database.transaction() as session:
        queue = OutboxRepository(session)
        for number in range(EMAILS):
            queue.add(
                OutboxEmail(
                    recipient=f"race-{tag}-{number}@example.com",
                    subject=f"Race {number}",
                    text_body=f"email {number}",
                    html_body=f"<p>email {number}</p>",
                )
            )

    with running(SmtpServer()) as server:
        settings = email_settings(database, server.port)
        senders = [CountingSender(SmtpEmailSender(settings)) for _ in range(2)]
        databases = [Database(settings) for _ in senders]
        dispatchers = [
            OutboxDispatcher(own_database, sender, settings)
            for own_database, sender in zip(databases, senders, strict=True)
        ]
        try:
            for dispatcher in dispatchers:
                dispatcher.start()
            rows = await outbox.wait_until(
                lambda rows: all(row.status == SENT for row in rows), within_seconds=120
            )
        finally:
            for dispatcher in dispatchers:
                await dispatcher.stop()
            for own_database in databases:
                await own_database.dispose()
            await outbox.dispose()

    assert len(rows) == EMAILS
    expected = {message_id(row, settings) for row in rows}
    delivered = Counter(str(item.message["Message-ID"]) for item in server.mailbox.received)
    assert set(delivered) == expected
    assert set(delivered.values()) == {1}
    recipients = Counter(address for item in server.mailbox.received for address in item.recipients)
    assert len(recipients) == EMAILS
    assert set(recipients.values()) == {1}
    # Both took part, and between them sent each email once.
    assert all(sender.sent for sender in senders)
    assert sum(len(sender.sent) for sender in senders) == EMAILS
