"""What clients send and see about second factors."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from fastapi_auth.kernel.fields import AnyPassword, RequestModel

Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    Field(description="A 6-digit code from the authenticator app, or a recovery code."),
]
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class PasswordRequest(RequestModel):
    password: AnyPassword


class CodeRequest(RequestModel):
    code: Code


class PasswordAndCodeRequest(RequestModel):
    password: AnyPassword
    code: Code


class TotpSetupRead(BaseModel):
    secret: str = Field(description="Base32, for typing into an app that cannot scan.")
    otpauth_uri: str
    qr_svg: str = Field(description="An SVG image of `otpauth_uri`.")


class RecoveryCodesRead(BaseModel):
    recovery_codes: list[str] = Field(
        description="Shown this once; each works one time. Empty when MFA was on already."
    )


class MfaLoginRequest(RequestModel):
    mfa_token: OpaqueToken
    code: Code
