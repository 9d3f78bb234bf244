from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


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


class SecurityEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: SecurityEventType
    session_id: uuid.UUID | None
    ip_address: str | None
    user_agent: str | None
    created_at: datetime


class SecurityEventPage(BaseModel):
    items: list[SecurityEventRead]
    next_cursor: str | None
