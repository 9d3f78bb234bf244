"""Reading one's own security log, and erasing what it holds of a deleted account."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.paging import decode_cursor, encode_cursor
from fastapi_auth.security_events.repository import SecurityEventRepository
from fastapi_auth.security_events.schemas import SecurityEventPage, SecurityEventRead


class SecurityEventService:
    def __init__(self, session: AsyncSession) -> None:
        self.repository = SecurityEventRepository(session)

    async def page(self, user_id: uuid.UUID, limit: int, cursor: str | None) -> SecurityEventPage:
        before = decode_cursor(cursor) if cursor else None
        events = await self.repository.page(user_id, limit + 1, before)
        has_more = len(events) > limit
        events = events[:limit]
        return SecurityEventPage(
            items=[SecurityEventRead.model_validate(event) for event in events],
            next_cursor=(
                encode_cursor(events[-1].created_at, events[-1].id) if has_more and events else None
            ),
        )

    async def erase_personal_data(self, user_id: uuid.UUID) -> None:
        """The log keeps event types and times under the account's opaque id; its IPs and
        user agents go."""
        await self.repository.erase_personal_data(user_id)
