"""The user as clients see it, and the account's own requests."""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fastapi_auth.kernel.fields import (
    AnyPassword,
    FullName,
    NewEmail,
    NewPassword,
    PhoneNumber,
    RequestModel,
)

USER_METADATA_MAX_BYTES = 4096
"""The contract's cap on `user_metadata`, which every account can write to freely."""
APP_METADATA_MAX_BYTES = 16384
"""Larger than `user_metadata`'s: only the host application writes it, and it is where
the host keeps what would otherwise need a column of its own; still bounded, because
every access check loads it with the user."""
METADATA_MAX_DEPTH = 64
"""Deeper than any sensible object; without a bound, a 4 KB body of nested lists would
overflow the serialiser's recursion instead of being refused."""


def metadata_problem(value: object, max_bytes: int) -> str | None:
    """Why `value` cannot be stored as metadata, or None. The size is that of compact
    JSON in UTF-8, the form the limit is stated in. Refused besides: what both backends
    cannot store (NUL, which PostgreSQL's JSONB rejects; lone surrogates, which are not
    UTF-8) and what is not JSON (NaN and infinities, which Python's parser lets in)."""
    if not isinstance(value, dict):
        return "must be a JSON object"
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > METADATA_MAX_DEPTH:
            return f"must be nested at most {METADATA_MAX_DEPTH} levels deep"
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return "keys must be strings"
                pending.append((key, depth))
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "must not contain NUL characters"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "must not contain NaN or infinite numbers"
        elif item is not None and not isinstance(item, (bool, int)):
            return "must contain JSON values only"
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    except (UnicodeEncodeError, ValueError):
        return "must be valid UTF-8 JSON"
    if size > max_bytes:
        return f"must be at most {max_bytes} bytes as compact JSON, not {size}"
    return None


def limit_user_metadata(value: dict[str, Any]) -> dict[str, Any]:
    problem = metadata_problem(value, USER_METADATA_MAX_BYTES)
    if problem:
        raise PydanticCustomError("metadata", problem)
    return value


UserMetadata = Annotated[dict[str, Any], AfterValidator(limit_user_metadata)]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str | None
    phone_number: str | None
    is_verified: bool
    is_active: bool
    pending_email: str | None
    mfa_enabled: bool
    user_metadata: dict[str, Any]
    app_metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class UserUpdate(RequestModel):
    """Fields left out stay as they are; `null` clears a name or phone number. A new
    `email` needs `current_password`. `app_metadata` is not among the fields, so it is
    refused like any unknown one."""

    full_name: FullName | None = None
    phone_number: PhoneNumber | None = None
    email: NewEmail | None = None
    user_metadata: UserMetadata = Field(
        default_factory=dict,
        description=f"Replaces the whole object; at most {USER_METADATA_MAX_BYTES} bytes "
        "as compact UTF-8 JSON.",
    )
    current_password: AnyPassword | None = Field(
        default=None, description="Required with a new `email`."
    )

    @model_validator(mode="after")
    def refuse_null_email(self) -> UserUpdate:
        if "email" in self.model_fields_set and self.email is None:
            raise ValueError("email cannot be cleared")
        return self


class ChangePasswordRequest(RequestModel):
    current_password: AnyPassword
    new_password: NewPassword

    @field_validator("new_password")
    @classmethod
    def refuse_the_same_password(cls, value: str, info: ValidationInfo) -> str:
        """Checked before any hash: a change to the same password would only move the
        security stamp on, ending every other session and reset link for nothing."""
        if value == info.data.get("current_password"):
            raise PydanticCustomError("same_password", "must differ from the current password")
        return value


class DeleteAccountRequest(RequestModel):
    password: AnyPassword


class LogoutAllRequest(RequestModel):
    keep_current: bool = Field(
        default=False, strict=True, description="Keep the session making this call."
    )
