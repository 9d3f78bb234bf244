from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from fastapi_auth.auth.password_policy import password_weakness
from fastapi_auth.users.schemas import (
    AnyPassword,
    Email,
    FullName,
    NewEmail,
    NewPassword,
    PhoneNumber,
    RequestModel,
)

LinkToken = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
RefreshTokenField = Annotated[
    str, Field(description="Any string is accepted; one that is not a live token is 401.")
]
"""No length limit of its own (the body cap bounds it): a wrong string, an access token
sent by mistake, is an invalid token (401), not an invalid request."""


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


class RefreshRequest(RequestModel):
    refresh_token: RefreshTokenField
