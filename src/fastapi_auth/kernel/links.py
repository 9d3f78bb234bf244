"""The emailed links: what each carries, and reading it back.

A link names only the record it acts on (a registration, an email change) or the
account and the security stamp it was issued under, never an address; whether it still
works is the database's to decide when it is used.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from fastapi_auth.kernel.errors import InvalidLinkToken
from fastapi_auth.kernel.settings import Settings
from fastapi_auth.kernel.tokens import (
    ACTIVATE_ACCOUNT_SALT,
    CANCEL_EMAIL_CHANGE_SALT,
    CHANGE_EMAIL_SALT,
    RESET_PASSWORD_SALT,
    VERIFY_EMAIL_SALT,
    LinkTokenCodec,
    TokenError,
)

VERIFY_PATH = "/auth/verify-email"
RESET_PATH = "/reset-password"
CANCEL_EMAIL_CHANGE_PATH = "/auth/cancel-email-change"


@dataclass(frozen=True)
class VerificationLink:
    kind: Literal["registration", "email_change"]
    record_id: uuid.UUID


@dataclass(frozen=True)
class ResetLink:
    user_id: uuid.UUID
    stamp: int


@dataclass(frozen=True)
class ActivationLink:
    registration_id: uuid.UUID


class Links:
    """`prefix`: the one the routes are mounted under, which every link follows."""

    def __init__(self, settings: Settings, codec: LinkTokenCodec, *, prefix: str = "") -> None:
        self._base = settings.public_url + prefix
        self._codec = codec

    def _url(self, path: str, payload: dict[str, object], salt: str) -> str:
        return f"{self._base}{path}?token={self._codec.dump(payload, salt)}"

    def verify_registration(self, registration_id: uuid.UUID) -> str:
        return self._url(VERIFY_PATH, {"rid": registration_id.hex}, VERIFY_EMAIL_SALT)

    def confirm_email_change(self, change_id: uuid.UUID) -> str:
        return self._url(VERIFY_PATH, {"cid": change_id.hex}, CHANGE_EMAIL_SALT)

    def cancel_email_change(self, change_id: uuid.UUID) -> str:
        return self._url(CANCEL_EMAIL_CHANGE_PATH, {"cid": change_id.hex}, CANCEL_EMAIL_CHANGE_SALT)

    def reset_password(self, user_id: uuid.UUID, stamp: int) -> str:
        return self._url(RESET_PATH, {"uid": user_id.hex, "st": stamp}, RESET_PASSWORD_SALT)

    def activate(self, registration_id: uuid.UUID) -> str:
        """The reset page, choosing the first password of a registration not yet
        verified (for an address whose owner lost the verification email)."""
        return self._url(RESET_PATH, {"rid": registration_id.hex}, ACTIVATE_ACCOUNT_SALT)

    def read_verification(self, token: str) -> VerificationLink:
        codec = self._codec
        for kind, salt, field in (
            ("registration", VERIFY_EMAIL_SALT, "rid"),
            ("email_change", CHANGE_EMAIL_SALT, "cid"),
        ):
            payload = self._load(token, salt, codec.verify_max_age)
            if payload is not None:
                return VerificationLink(kind, _id(payload, field))  # type: ignore[arg-type]
        raise InvalidLinkToken()

    def read_reset(self, token: str) -> ResetLink | ActivationLink:
        max_age = self._codec.reset_max_age
        payload = self._load(token, RESET_PASSWORD_SALT, max_age)
        if payload is not None:
            stamp = payload.get("st")
            if not isinstance(stamp, int) or isinstance(stamp, bool):
                raise InvalidLinkToken()
            return ResetLink(_id(payload, "uid"), stamp)
        payload = self._load(token, ACTIVATE_ACCOUNT_SALT, max_age)
        if payload is not None:
            return ActivationLink(_id(payload, "rid"))
        raise InvalidLinkToken()

    def read_cancel_email_change(self, token: str) -> uuid.UUID:
        payload = self._load(
            token, CANCEL_EMAIL_CHANGE_SALT, self._codec.cancel_email_change_max_age
        )
        if payload is None:
            raise InvalidLinkToken()
        return _id(payload, "cid")

    def _load(self, token: str, salt: str, max_age: int) -> dict[str, object] | None:
        try:
            return self._codec.load(token, salt, max_age)
        except TokenError:
            return None


def _id(payload: dict[str, object], field: str) -> uuid.UUID:
    try:
        return uuid.UUID(hex=str(payload.get(field)))
    except ValueError as error:
        raise InvalidLinkToken() from error
