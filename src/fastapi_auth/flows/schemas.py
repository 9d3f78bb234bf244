"""The requests of sign-up, verification, login and recovery."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, model_validator

from fastapi_auth.kernel.fields import (
    AnyPassword,
    Email,
    FullName,
    NewEmail,
    NewPassword,
    PhoneNumber,
    RequestModel,
)
from fastapi_auth.kernel.password_policy import password_weakness

LinkToken = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class RegisterRequest(RequestModel):
    email: NewEmail
    password: NewPassword
    full_name: FullName | None = None
    phone_number: PhoneNumber | None = None

    @model_validator(mode="after")
    def refuse_email_as_password(self) -> RegisterRequest:
        reason = password_weakness(self.password, self.email)
        if reason:
            raise ValueError(reason)
        return self


class LoginRequest(RequestModel):
    email: Email
    password: AnyPassword


class EmailRequest(RequestModel):
    email: Email


class VerifyEmailRequest(RequestModel):
    token: LinkToken


class ResetPasswordRequest(RequestModel):
    token: LinkToken
    new_password: NewPassword
