"""The user as clients see it, and the account's own requests."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from fastapi_auth.kernel.fields import (
    AnyPassword,
    FullName,
    NewEmail,
    NewPassword,
    PhoneNumber,
    RequestModel,
)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str | None
    phone_number: str | None
    is_verified: bool
    is_active: bool
    pending_email: str | None
    created_at: datetime
    updated_at: datetime


class UserUpdate(RequestModel):
    """Fields left out stay as they are; `null` clears a name or phone number. A new
    `email` needs `current_password`."""

    full_name: FullName | None = None
    phone_number: PhoneNumber | None = None
    email: NewEmail | None = None
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
