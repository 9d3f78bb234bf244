"""The per-account security log: written in the transaction of the change it records."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.client import ClientInfo
from fastapi_auth.errors import DomainError
from fastapi_auth.models import SecurityEvent
from fastapi_auth.security_events.repository import SecurityEventRepository
from fastapi_auth.security_events.schemas import (
    SecurityEventPage,
    SecurityEventRead,
    SecurityEventType,
)


class InvalidCursor(DomainError):
    status_code = 400
    code = "INVALID_CURSOR"
    detail = "The cursor is not one this service returned."


def record_event(
    session: AsyncSession,
    user_id: uuid.UUID,
    event_type: SecurityEventType,
    client: ClientInfo | None,
    session_id: uuid.UUID | None = None,
) -> None:
    SecurityEventRepository(session).add(
        SecurityEvent(
            user_id=user_id,
            event_type=event_type.value,
            session_id=session_id,
            ip_address=client.ip_address if client else None,
            user_agent=client.user_agent if client else None,
        )
    )


def encode_cursor(event: SecurityEvent) -> str:
    raw = f"{event.created_at.isoformat()}|{event.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, _, event_id = raw.partition("|")
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("naive cursor time")
        return moment.astimezone(UTC), uuid.UUID(event_id)
    except (ValueError, OverflowError) as error:
        raise InvalidCursor() from error


async def list_events(
    session: AsyncSession, user_id: uuid.UUID, limit: int, cursor: str | None
) -> SecurityEventPage:
    before = decode_cursor(cursor) if cursor else None
    events = await SecurityEventRepository(session).page(user_id, limit + 1, before)
    has_more = len(events) > limit
    events = events[:limit]
    return SecurityEventPage(
        items=[SecurityEventRead.model_validate(event) for event in events],
        next_cursor=encode_cursor(events[-1]) if has_more and events else None,
    )
