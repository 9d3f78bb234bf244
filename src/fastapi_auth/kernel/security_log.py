"""Writing the per-account security log, which every domain does in the transaction of
the change it records (reading it back is the `security_events` domain's)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.client import ClientInfo
from fastapi_auth.kernel.models import SecurityEvent, User, utcnow


class SecurityEventType(StrEnum):
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    PASSWORD_CHECK_FAILED = "password_check_failed"
    REFRESH_REUSE_DETECTED = "refresh_reuse_detected"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFIED = "email_verified"
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGE_CONFIRMED = "email_change_confirmed"
    EMAIL_CHANGE_CANCELLED = "email_change_cancelled"
    SESSION_REVOKED = "session_revoked"
    ACCOUNT_DELETED = "account_deleted"


def record_event(
    session: AsyncSession,
    user_id: uuid.UUID,
    event_type: SecurityEventType,
    client: ClientInfo | None,
    session_id: uuid.UUID | None = None,
) -> None:
    session.add(
        SecurityEvent(
            user_id=user_id,
            event_type=event_type.value,
            session_id=session_id,
            ip_address=client.ip_address if client else None,
            user_agent=client.user_agent if client else None,
        )
    )


async def record_event_if_account_exists(
    session: AsyncSession,
    user_id: uuid.UUID,
    event_type: SecurityEventType,
    client: ClientInfo | None,
) -> None:
    """For an event no other write of its request ties to the account (a failed
    password check): inserted only while the account exists, its row read `FOR SHARE`
    on PostgreSQL, so a deletion racing it either waits and then erases it with the
    rest, or has already gone and leaves no IP behind."""
    values = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "event_type": event_type.value,
        "session_id": None,
        "ip_address": client.ip_address if client else None,
        "user_agent": client.user_agent if client else None,
        "created_at": utcnow(),
    }
    columns = SecurityEvent.__table__.c
    source = (
        select(*(literal(value, columns[name].type) for name, value in values.items()))
        .select_from(User)
        .where(User.id == user_id)
        .with_for_update(read=True)
    )
    await session.execute(insert(SecurityEvent).from_select(list(values), source))
