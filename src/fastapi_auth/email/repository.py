"""All SQL of the email outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.db import OUTBOX_TOUCHED
from fastapi_auth.kernel.models import OutboxEmail
from fastapi_auth.kernel.models.outbox_email import FAILED, PENDING, SENT


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, email: OutboxEmail) -> None:
        self.session.add(email)
        self.session.info[OUTBOX_TOUCHED] = True

    async def due_ids(self, now: datetime, limit: int, skip_locked: bool) -> Sequence[uuid.UUID]:
        statement = (
            select(OutboxEmail.id)
            .where(
                OutboxEmail.status == PENDING,
                OutboxEmail.next_attempt_at <= now,
                or_(OutboxEmail.locked_until.is_(None), OutboxEmail.locked_until < now),
            )
            .order_by(OutboxEmail.next_attempt_at)
            .limit(limit)
        )
        if skip_locked:
            statement = statement.with_for_update(skip_locked=True)
        return (await self.session.scalars(statement)).all()

    async def claim(
        self, email_id: uuid.UUID, now: datetime, until: datetime
    ) -> OutboxEmail | None:
        """Take a lease on one email; the conditional update makes exactly one claimer win."""
        result = await self.session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == email_id,
                OutboxEmail.status == PENDING,
                or_(OutboxEmail.locked_until.is_(None), OutboxEmail.locked_until < now),
            )
            .values(locked_until=until, attempts=OutboxEmail.attempts + 1)
            .returning(OutboxEmail)
        )
        return result.scalar_one_or_none()

    async def mark_sent(self, email_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email_id)
            .values(status=SENT, sent_at=now, locked_until=None, last_error=None)
        )

    async def mark_retry(self, email_id: uuid.UUID, error: str, next_attempt_at: datetime) -> None:
        await self.session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email_id)
            .values(locked_until=None, last_error=error, next_attempt_at=next_attempt_at)
        )

    async def mark_failed(self, email_id: uuid.UUID, error: str) -> None:
        await self.session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email_id)
            .values(status=FAILED, locked_until=None, last_error=error)
        )

    async def list_by_status(self, status: str, limit: int) -> Sequence[OutboxEmail]:
        statement = (
            select(OutboxEmail)
            .where(OutboxEmail.status == status)
            .order_by(OutboxEmail.created_at.desc())
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def requeue_failed(self, now: datetime, email_id: uuid.UUID | None = None) -> int:
        statement = (
            update(OutboxEmail)
            .where(OutboxEmail.status == FAILED)
            .values(status=PENDING, attempts=0, next_attempt_at=now, locked_until=None)
        )
        if email_id is not None:
            statement = statement.where(OutboxEmail.id == email_id)
        result = await self.session.execute(statement)
        self.session.info[OUTBOX_TOUCHED] = True
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def delete_for_account(self, account_id: uuid.UUID) -> int:
        """Every email about an account that is being deleted, sent or not and to whichever
        of its addresses: they hold its name and addresses. Mail to an address the account
        once had but that belongs to someone else now is someone else's, and stays."""
        result = await self.session.execute(
            delete(OutboxEmail).where(OutboxEmail.account_id == account_id)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def delete_sent_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            delete(OutboxEmail).where(OutboxEmail.status == SENT, OutboxEmail.sent_at < cutoff)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
