"""All SQL about the security event log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.models import SecurityEvent


class SecurityEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, event: SecurityEvent) -> None:
        self.session.add(event)

    async def page(
        self,
        user_id: uuid.UUID,
        limit: int,
        before: tuple[datetime, uuid.UUID] | None,
    ) -> Sequence[SecurityEvent]:
        statement = select(SecurityEvent).where(SecurityEvent.user_id == user_id)
        if before is not None:
            created_at, event_id = before
            statement = statement.where(
                or_(
                    SecurityEvent.created_at < created_at,
                    (SecurityEvent.created_at == created_at) & (SecurityEvent.id < event_id),
                )
            )
        statement = statement.order_by(
            SecurityEvent.created_at.desc(), SecurityEvent.id.desc()
        ).limit(limit)
        return (await self.session.scalars(statement)).all()

    async def erase_personal_data(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            update(SecurityEvent)
            .where(SecurityEvent.user_id == user_id)
            .values(ip_address=None, user_agent=None)
        )
