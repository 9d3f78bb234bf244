"""All SQL about reading and erasing the security event log (writing it is the kernel's
`security_log`, which every domain uses)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.models import SecurityEvent
from fastapi_auth.kernel.paging import newest_first


class SecurityEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
