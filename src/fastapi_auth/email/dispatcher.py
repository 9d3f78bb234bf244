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
from email.utils import formataddr

import idna

from fastapi_auth.email.repository import OutboxRepository
from fastapi_auth.email.sender import EmailSender, PermanentDeliveryError
from fastapi_auth.kernel.db import Database, is_missing_table
from fastapi_auth.kernel.models import OutboxEmail, utcnow
from fastapi_auth.kernel.settings import Settings

logger = logging.getLogger("fastapi_auth.email")

BATCH_SIZE = 50
MAX_ERROR_LENGTH = 1000
MAX_BACKOFF_EXPONENT = 64
"""2^64 times any sane base is past any cap; a larger power would overflow a float."""


def retry_delay(
    attempts: int, base: float, cap: float, rng: random.Random | None = None
) -> timedelta:
    """Exponential back-off with jitter: uniform in [base, base * 2^(attempts-1)], never
    above `cap`, so dispatchers that failed together do not retry together."""
    exponent = min(max(0, attempts - 1), MAX_BACKOFF_EXPONENT)
    ceiling = min(cap, base * 2**exponent)
    floor = min(base, ceiling)
    return timedelta(seconds=(rng or random.SystemRandom()).uniform(floor, ceiling))


def deliverable_address(address: str) -> str:
    """An internationalised domain as the DNS knows it (IDNA), so an address whose local
    part is ASCII needs no SMTPUTF8 from the server; only a non-ASCII local part does."""
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        return address


class OutboxDispatcher:
    def __init__(self, database: Database, sender: EmailSender, settings: Settings) -> None:
        self._database = database
        self._sender = sender
        self._settings = settings
        self._wake = asyncio.Event()
        self._lease = timedelta(seconds=settings.email_timeout_seconds * 3 + 30)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._failing: str | None = None
        """What the current run of failed polls failed with, said once in the log."""

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._database.on_outbox_commit(self.wake)
        self._task = asyncio.create_task(self.run_forever(), name="outbox-dispatcher")

    async def stop(self) -> None:
        """Claim nothing more and let the sends in flight finish, for at most one SMTP
        timeout: a send cut off after the server took the message would be sent again
        when its lease ends."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=self._settings.email_timeout_seconds)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run_forever(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                sent = await self.dispatch_due()
            except Exception as error:
                self._note_failure(error)
                sent = 0
            else:
                self._note_success()
            if sent >= BATCH_SIZE:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.email_poll_seconds)

    def _note_failure(self, error: Exception) -> None:
        """Once per kind of failure, not once per poll: a database never migrated (or
        down) would otherwise fill the log with the same traceback every second. The
        polls go on meanwhile, and the first that succeeds says so."""
        kind = "missing table" if is_missing_table(error) else type(error).__name__
        if kind == self._failing:
            logger.debug("outbox dispatch still failing (%s)", kind)
            return
        self._failing = kind
        if kind == "missing table":
            logger.warning(
                "outbox dispatch paused: the outbox table does not exist (the database "
                'schema is not migrated; run "fastapi-auth db upgrade"); retrying every %g s',
                self._settings.email_poll_seconds,
            )
        else:
            logger.exception("outbox dispatch failed; retrying shortly")

    def _note_success(self) -> None:
        if self._failing is not None:
            logger.info("outbox dispatch resumed after %s", self._failing)
            self._failing = None

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
                delay = retry_delay(
                    email.attempts,
                    self._settings.email_retry_base_seconds,
                    self._settings.email_retry_max_seconds,
                )
                await outbox.mark_retry(email.id, error, utcnow() + delay)

    def _to_message(self, email: OutboxEmail) -> EmailMessage:
        settings = self._settings
        message = EmailMessage()
        message["From"] = formataddr((settings.email_from_name, settings.email_from))
        message["To"] = deliverable_address(email.recipient)
        message["Subject"] = email.subject
        # The same on every attempt, so a duplicate delivery is recognisable as one.
        message["Message-ID"] = message_id(email, settings)
        message.set_content(email.text_body)
        message.add_alternative(email.html_body, subtype="html")
        return message


def message_id(email: OutboxEmail, settings: Settings) -> str:
    domain = settings.email_from.rpartition("@")[2] or "localhost"
    return f"<{email.id.hex}@{domain}>"
