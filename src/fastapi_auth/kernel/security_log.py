"""Writing the per-account security log, which every domain does in the transaction of
the change it records (reading it back is the `security_events` domain's)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.client import ClientInfo
from fastapi_auth.kernel.db import ACCOUNT_EVENTS
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
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_FAILED = "mfa_failed"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"
    REGISTERED = "registered"
    """Announced to hooks, never logged: a registration has no account until verified."""


@dataclass(frozen=True)
class AccountEvent:
    """What happened to which account. `user_id` is None for a registration (the account
    exists once its address is verified); `email` is the account's address when the
    event happened, where the domain had it at hand."""

    type: SecurityEventType
    user_id: uuid.UUID | None
    email: str | None = None
    session_id: uuid.UUID | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    occurred_at: datetime = field(default_factory=utcnow)


def announce(
    session: AsyncSession,
    event_type: SecurityEventType,
    user_id: uuid.UUID | None,
    *,
    email: str | None = None,
    client: ClientInfo | None = None,
    session_id: uuid.UUID | None = None,
) -> None:
    """Queues an event for the hooks, delivered only if `session`'s transaction commits."""
    event = AccountEvent(
        type=event_type,
        user_id=user_id,
        email=email,
        session_id=session_id,
        ip_address=client.ip_address if client else None,
        user_agent=client.user_agent if client else None,
    )
    session.info.setdefault(ACCOUNT_EVENTS, []).append(event)


def record_event(
    session: AsyncSession,
    user_id: uuid.UUID,
    event_type: SecurityEventType,
    client: ClientInfo | None,
    session_id: uuid.UUID | None = None,
    *,
    email: str | None = None,
) -> None:
    """Logs the event and announces it to the host's hooks (`hooks.announce`); `email`,
    the account's address, is for the hooks only."""
    announce(session, event_type, user_id, email=email, client=client, session_id=session_id)
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
    inserted = await session.execute(insert(SecurityEvent).from_select(list(values), source))
    if inserted.rowcount:  # type: ignore[attr-defined]
        announce(session, event_type, user_id, client=client)
