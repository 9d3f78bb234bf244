"""Sessions and their tokens as clients see them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fastapi_auth.kernel.fields import RequestModel

RefreshTokenField = Annotated[
    str, Field(description="Any string is accepted; one that is not a live token is 401.")
]
"""No length limit of its own (the body cap bounds it): a wrong string, an access token
sent by mistake, is an invalid token (401), not an invalid request."""


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


class RefreshRequest(RequestModel):
    refresh_token: RefreshTokenField


TOKEN_PAIR_LINKS: dict[str, Any] = {
    "links": {
        "Refresh": {
            "operationRef": "#/paths/~1auth~1refresh/post",
            "requestBody": {"refresh_token": "$response.body#/refresh_token"},
            "description": "Trade the refresh token for a new pair (once: it is then spent).",
        },
        "Logout": {
            "operationRef": "#/paths/~1users~1logout/post",
            "requestBody": {"refresh_token": "$response.body#/refresh_token"},
            "description": "End the session this pair belongs to.",
        },
    }
}
"""The OpenAPI links of every answer that hands out a pair (login too)."""
