"""All SQL about the security event log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.models import SecurityEvent, User, utcnow
from fastapi_auth.paging import newest_first


class SecurityEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, event: SecurityEvent) -> None:
        self.session.add(event)

    async def add_if_account_exists(self, event: SecurityEvent) -> None:
        """For an event no other write of its request ties to the account (a failed
        password check): inserted only while the account exists, its row read `FOR SHARE`
        on PostgreSQL, so a deletion racing it either waits and then erases it with the
        rest, or has already gone and leaves no IP behind."""
        values = {
            "id": uuid.uuid4(),
            "user_id": event.user_id,
            "event_type": event.event_type,
            "session_id": event.session_id,
            "ip_address": event.ip_address,
            "user_agent": event.user_agent,
            "created_at": utcnow(),
        }
        columns = SecurityEvent.__table__.c
        source = (
            select(*(literal(value, columns[name].type) for name, value in values.items()))
            .select_from(User)
            .where(User.id == event.user_id)
            .with_for_update(read=True)
        )
        await self.session.execute(insert(SecurityEvent).from_select(list(values), source))

    async def page(
        self,
        user_id: uuid.UUID,
        limit: int,
        before: tuple[datetime, uuid.UUID] | None,
    ) -> Sequence[SecurityEvent]:
        of_user = select(SecurityEvent).where(SecurityEvent.user_id == user_id)
        page = newest_first(of_user, SecurityEvent.created_at, SecurityEvent.id, before, limit)
        return (await self.session.scalars(page)).all()

    async def erase_personal_data(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            update(SecurityEvent)
            .where(SecurityEvent.user_id == user_id)
            .values(ip_address=None, user_agent=None)
        )
