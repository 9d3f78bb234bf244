"""Delivers the outbox: claim due emails, send them, record the outcome.

Each email is claimed with a lease (a conditional update, so exactly one
dispatcher wins it; PostgreSQL also skips rows another dispatcher has locked),
sent outside any transaction, then marked sent, retried later with
exponential back-off and jitter, or failed for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from fastapi_auth.db import Database
from fastapi_auth.email.repository import OutboxRepository
from fastapi_auth.email.sender import EmailSender, PermanentDeliveryError
from fastapi_auth.models import OutboxEmail, utcnow
from fastapi_auth.settings import Settings

logger = logging.getLogger("fastapi_auth.email")

BATCH_SIZE = 50
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 3600.0
MAX_ERROR_LENGTH = 1000


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Full-jitter exponential back-off: uniform in [base, base * 2^(attempts-1)], capped."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=(rng or random.SystemRandom()).uniform(RETRY_BASE_SECONDS, ceiling))


class OutboxDispatcher:
    def __init__(self, database: Database, sender: EmailSender, settings: Settings) -> None:
        self._database = database
        self._sender = sender
        self._settings = settings
        self._wake = asyncio.Event()
        self._lease = timedelta(seconds=settings.email_timeout_seconds * 3 + 30)
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._database.on_outbox_commit(self.wake)
        self._task = asyncio.create_task(self.run_forever(), name="outbox-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_forever(self) -> None:
        while True:
            try:
                sent = await self.dispatch_due()
            except Exception:
                logger.exception("outbox dispatch failed; retrying shortly")
                sent = 0
            if sent >= BATCH_SIZE:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.email_poll_seconds)
            self._wake.clear()

    async def dispatch_due(self) -> int:
        """Send one batch of due emails; returns how many were claimed."""
        claimed = await self._claim_batch()
        await asyncio.gather(*(self._deliver(email) for email in claimed))
        return len(claimed)

    async def _claim_batch(self) -> list[OutboxEmail]:
        now = utcnow()
        async with self._database.transaction() as session:
            outbox = OutboxRepository(session)
            ids = await outbox.due_ids(now, BATCH_SIZE, skip_locked=not self._database.is_sqlite)
            claimed = [await outbox.claim(email_id, now, now + self._lease) for email_id in ids]
        return [email for email in claimed if email is not None]

    async def _deliver(self, email: OutboxEmail) -> None:
        try:
            await self._sender.send(self._to_message(email))
        except PermanentDeliveryError as error:
            await self._record_failure(email, str(error), permanent=True)
        except Exception as error:
            await self._record_failure(email, f"{type(error).__name__}: {error}", permanent=False)
        else:
            async with self._database.transaction() as session:
                await OutboxRepository(session).mark_sent(email.id, utcnow())

    async def _record_failure(self, email: OutboxEmail, error: str, *, permanent: bool) -> None:
        error = error[:MAX_ERROR_LENGTH]
        async with self._database.transaction() as session:
            outbox = OutboxRepository(session)
            if permanent or email.attempts >= self._settings.email_max_attempts:
                logger.error("email %s to %s failed for good: %s", email.id, email.recipient, error)
                await outbox.mark_failed(email.id, error)
            else:
                logger.warning("email %s attempt %d failed: %s", email.id, email.attempts, error)
                await outbox.mark_retry(email.id, error, utcnow() + retry_delay(email.attempts))

    def _to_message(self, email: OutboxEmail) -> EmailMessage:
        settings = self._settings
        message = EmailMessage()
        message["From"] = formataddr((settings.email_from_name, settings.email_from))
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Message-ID"] = make_msgid(idstring=email.id.hex, domain=_domain_of(settings))
        message.set_content(email.text_body)
        message.add_alternative(email.html_body, subtype="html")
        return message


def _domain_of(settings: Settings) -> str:
    return settings.email_from.rpartition("@")[2] or "localhost"
