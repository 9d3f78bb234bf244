"""The per-account security log: written in the transaction of the change it records."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.client import ClientInfo
from fastapi_auth.models import SecurityEvent
from fastapi_auth.paging import decode_cursor, encode_cursor
from fastapi_auth.security_events.repository import SecurityEventRepository
from fastapi_auth.security_events.schemas import (
    SecurityEventPage,
    SecurityEventRead,
    SecurityEventType,
)


def _event(
    user_id: uuid.UUID,
    event_type: SecurityEventType,
    client: ClientInfo | None,
    session_id: uuid.UUID | None,
) -> SecurityEvent:
    return SecurityEvent(
        user_id=user_id,
        event_type=event_type.value,
        session_id=session_id,
        ip_address=client.ip_address if client else None,
        user_agent=client.user_agent if client else None,
    )


def record_event(
    session: AsyncSession,
    user_id: uuid.UUID,
    event_type: SecurityEventType,
    client: ClientInfo | None,
    session_id: uuid.UUID | None = None,
) -> None:
    SecurityEventRepository(session).add(_event(user_id, event_type, client, session_id))


async def record_event_if_account_exists(
    session: AsyncSession,
    user_id: uuid.UUID,
    event_type: SecurityEventType,
    client: ClientInfo | None,
) -> None:
    """See `SecurityEventRepository.add_if_account_exists`."""
    repository = SecurityEventRepository(session)
    await repository.add_if_account_exists(_event(user_id, event_type, client, None))


async def list_events(
    session: AsyncSession, user_id: uuid.UUID, limit: int, cursor: str | None
) -> SecurityEventPage:
    before = decode_cursor(cursor) if cursor else None
    events = await SecurityEventRepository(session).page(user_id, limit + 1, before)
    has_more = len(events) > limit
    events = events[:limit]
    return SecurityEventPage(
        items=[SecurityEventRead.model_validate(event) for event in events],
        next_cursor=(
            encode_cursor(events[-1].created_at, events[-1].id) if has_more and events else None
        ),
    )
