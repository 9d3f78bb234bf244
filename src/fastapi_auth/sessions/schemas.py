from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="The access token's lifetime in seconds.")


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_agent: str | None
    ip_address: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool = False


class SessionPage(BaseModel):
    items: list[SessionRead]
    next_cursor: str | None


class LogoutAllRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_current: bool = Field(
        default=False, strict=True, description="Keep the session making this call."
    )
