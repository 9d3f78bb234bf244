"""The security log as clients read it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from fastapi_auth.kernel.security_log import SecurityEventType


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
