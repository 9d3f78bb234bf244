"""What clients send and see about second factors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from fastapi_auth.kernel.fields import AnyPassword, RequestModel

Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    Field(description="A 6-digit code from the authenticator app, or a recovery code."),
]
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Credential = Annotated[
    dict[str, Any],
    Field(description="What `credential.toJSON()` returns in the browser."),
]
PasskeyName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    Field(description="A label for the list, e.g. the device it is on."),
]


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
    """A code, or a passkey's assertion: exactly one of them."""

    mfa_token: OpaqueToken
    code: Code | None = None
    credential: Credential | None = Field(
        default=None,
        description="A passkey assertion, as `credential.toJSON()` returns it, answering "
        "`POST /auth/login/mfa/passkey-options`.",
    )

    @model_validator(mode="after")
    def one_proof(self) -> MfaLoginRequest:
        if (self.code is None) == (self.credential is None):
            raise ValueError("send exactly one of code and credential")
        return self


class MfaTokenRequest(RequestModel):
    mfa_token: OpaqueToken


class PasskeyOptionsRead(BaseModel):
    challenge_id: uuid.UUID = Field(description="Send it back with the credential.")
    options: dict[str, Any] = Field(
        description="The W3C JSON form of the options, for "
        "`PublicKeyCredential.parseCreationOptionsFromJSON` (registration) or "
        "`parseRequestOptionsFromJSON` (login)."
    )


class AddPasskeyRequest(RequestModel):
    challenge_id: uuid.UUID
    credential: Credential
    name: PasskeyName | None = None


class RenamePasskeyRequest(RequestModel):
    name: PasskeyName


class PasskeyLoginRequest(RequestModel):
    challenge_id: uuid.UUID
    credential: Credential


class PasskeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool = Field(description="Synced to a cloud account (survives a lost device).")
    transports: list[str]


class PasskeyAddedRead(BaseModel):
    passkey: PasskeyRead
    recovery_codes: list[str] = Field(
        description="Shown this once when this passkey turned MFA on; else empty."
    )
